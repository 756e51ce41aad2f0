package l7_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bouncer-proxy/bouncer/l7"
	"github.com/bouncer-proxy/bouncer/tls/certstest"
)

// tlsGateway serves a TLS listener with certificates for a.test and
// *.b.test (extra: more tls keys) and one direct-response route.
func tlsGateway(t *testing.T, ca *certstest.CA, extra string) *testGateway {
	t.Helper()
	dir := t.TempDir()
	a := ca.Leaf(t, dir, "a", "ecdsa", "a", "a.test")
	b := ca.Leaf(t, dir, "b", "ecdsa", "b", "*.b.test")
	cfg := fmt.Sprintf(`admin: {address: "off"}
listeners:
  - name: web
    address: 127.0.0.1:0
    protocols: [http1, h2]
    tls:
      certificates:
        - {cert_file: %q, key_file: %q}
        - {cert_file: %q, key_file: %q}
%s
routes:
  - respond: {status: 200, body: "hello"}
`, a.CertFile, a.KeyFile, b.CertFile, b.KeyFile, extra)
	return startTestGateway(t, cfg, gatewayOptions{})
}

// tlsClient dials addr whatever the URL's host, with sni as the TLS
// server name.
func tlsClient(t *testing.T, ca *certstest.CA, addr, sni string, h2 bool, tc *tls.Config) *http.Client {
	t.Helper()
	if tc == nil {
		tc = &tls.Config{}
	}
	tc.RootCAs, tc.ServerName = ca.Pool, sni
	d := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{
		TLSClientConfig:   tc,
		ForceAttemptHTTP2: h2,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
	}
	if !h2 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

type tlsReply struct {
	status int
	proto  string
	cn     string
	body   string
}

func tlsGet(t *testing.T, c *http.Client, host string) (tlsReply, error) {
	t.Helper()
	res, err := c.Get("https://" + host + "/")
	if err != nil {
		return tlsReply{}, err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return tlsReply{res.StatusCode, res.Proto, res.TLS.PeerCertificates[0].Subject.CommonName, string(b)}, nil
}

// The certificate follows SNI; a request whose Host is another server
// than the SNI gets 421 over HTTP/1.1 and HTTP/2, unless sni_host_check is
// off.
func TestTLSListenerSNIAndMisdirected(t *testing.T) {
	ca := certstest.NewCA(t)
	g := tlsGateway(t, ca, "")
	for _, h2 := range []bool{false, true} {
		for _, c := range []struct {
			sni, host string
			status    int
			cn        string
		}{
			{"a.test", "a.test", 200, "a"},
			{"a.test", "A.TEST.", 200, "a"},
			{"x.b.test", "x.b.test", 200, "b"},
			{"a.test", "x.b.test", 421, "a"}, // a connection to a.test reused for another host
			{"x.b.test", "y.b.test", 421, "b"},
		} {
			name := fmt.Sprintf("h2=%v sni=%s host=%s", h2, c.sni, c.host)
			got, err := tlsGet(t, tlsClient(t, ca, g.Addr, c.sni, h2, nil), c.host)
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			if want := map[bool]string{false: "HTTP/1.1", true: "HTTP/2.0"}[h2]; got.proto != want {
				t.Errorf("%s: protocol %s, want %s", name, got.proto, want)
			}
			if got.status != c.status || got.cn != c.cn {
				t.Errorf("%s: status %d with certificate %q, want %d with %q (%s)", name, got.status, got.cn, c.status, c.cn, got.body)
			}
			if c.status == 421 {
				var e struct {
					Error struct{ Code, Message string }
				}
				if json.Unmarshal([]byte(got.body), &e) != nil || e.Error.Code != "MISDIRECTED_REQUEST" || !strings.Contains(e.Error.Message, c.sni) {
					t.Errorf("%s: 421 body %s", name, got.body)
				}
			}
		}
	}
	off := tlsGateway(t, ca, "      sni_host_check: false")
	if got, err := tlsGet(t, tlsClient(t, ca, off.Addr, "a.test", false, nil), "x.b.test"); err != nil || got.status != 200 {
		t.Errorf("sni_host_check off: %+v, %v; want 200", got, err)
	}
}

// Only modern TLS: 1.2 with ECDHE and AEAD suites, or 1.3; min_version
// 1.3 refuses 1.2.
func TestTLSListenerVersionsAndSuites(t *testing.T) {
	ca := certstest.NewCA(t)
	g := tlsGateway(t, ca, "")
	for _, c := range []struct {
		name string
		tc   *tls.Config
		ok   bool
	}{
		{"TLS 1.3", &tls.Config{MinVersion: tls.VersionTLS13}, true},
		{"TLS 1.2 with an AEAD suite", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}}, true},
		{"TLS 1.2 with CBC only", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}}, false},
		{"TLS 1.1", &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}, false},
	} {
		_, err := tlsGet(t, tlsClient(t, ca, g.Addr, "a.test", false, c.tc), "a.test")
		if (err == nil) != c.ok {
			t.Errorf("%s: err %v, want ok=%v", c.name, err, c.ok)
		}
	}
	only13 := tlsGateway(t, ca, `      min_version: "1.3"`)
	if _, err := tlsGet(t, tlsClient(t, ca, only13.Addr, "a.test", false, &tls.Config{MaxVersion: tls.VersionTLS12}), "a.test"); err == nil {
		t.Error("min_version 1.3 accepted a TLS 1.2 client")
	}
	if got, err := tlsGet(t, tlsClient(t, ca, only13.Addr, "a.test", false, nil), "a.test"); err != nil || got.status != 200 {
		t.Errorf("min_version 1.3, TLS 1.3 client: %+v, %v", got, err)
	}
}

func TestHostOnly(t *testing.T) {
	for in, want := range map[string]string{
		"a.test": "a.test", "a.test:8443": "a.test", "[::1]:443": "::1", "[::1]": "::1",
		"::1": "::1", "": "", "[bad": "[bad",
	} {
		if got := l7.HostOnlyForTest(in); got != want {
			t.Errorf("hostOnly(%q) = %q, want %q", in, got, want)
		}
	}
}
