package proxy_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/bouncer-proxy/bouncer/tls/certstest"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
)

// protoEcho answers with the protocol the request arrived with and
// whether it came over TLS.
func protoEcho(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Seen-Proto", r.Proto)
	w.Header().Set("X-Seen-Forwarded-Proto", r.Header.Get("X-Forwarded-Proto"))
	fmt.Fprintf(w, "%d tls=%v", r.ProtoMajor, r.TLS != nil)
}

// writeCA stores srv's certificate as a PEM file and returns its path.
func writeCA(t *testing.T, cert *x509.Certificate) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ca.pem")
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestUpstreamProtocols checks each way of talking to endpoints: HTTP/1.1
// (plain and TLS), h2c, and h2 over TLS verified by insecure_skip_verify
// or a ca_file; the backend sees the expected protocol.
func TestUpstreamProtocols(t *testing.T) {
	tests := []struct {
		name  string
		start func(t *testing.T) (addr, extra string)
		want  string
	}{
		{"http1", func(t *testing.T) (string, string) {
			return newBackend(t, protoEcho).Addr, "protocol: http1"
		}, "1 tls=false"},
		{"http1 over tls", func(t *testing.T) (string, string) {
			b := newUnstarted(http.HandlerFunc(protoEcho))
			b.StartTLS()
			t.Cleanup(b.Close)
			return b.Listener.Addr().String(), "protocol: http1\ntls: {ca_file: " + writeCA(t, b.Certificate()) + "}"
		}, "1 tls=true"},
		{"h2c", func(t *testing.T) (string, string) {
			b := newUnstarted(h2c.NewHandler(http.HandlerFunc(protoEcho), &http2.Server{}))
			b.Start()
			t.Cleanup(b.Close)
			return b.Listener.Addr().String(), "protocol: h2c"
		}, "2 tls=false"},
		{"h2 insecure_skip_verify", func(t *testing.T) (string, string) {
			b := newUnstarted(http.HandlerFunc(protoEcho))
			b.EnableHTTP2 = true
			b.StartTLS()
			t.Cleanup(b.Close)
			return b.Listener.Addr().String(), "protocol: h2\ntls: {insecure_skip_verify: true}"
		}, "2 tls=true"},
		{"h2 ca_file", func(t *testing.T) (string, string) {
			b := newUnstarted(http.HandlerFunc(protoEcho))
			b.EnableHTTP2 = true
			b.StartTLS()
			t.Cleanup(b.Close)
			return b.Listener.Addr().String(), "protocol: h2\ntls: {ca_file: " + writeCA(t, b.Certificate()) + "}"
		}, "2 tls=true"},
		{"h2 repo test certificate", func(t *testing.T) (string, string) {
			cert, err := tls.LoadX509KeyPair(testdataTLS(t, "server.crt"), testdataTLS(t, "server.key"))
			if err != nil {
				t.Fatal(err)
			}
			b := newUnstarted(http.HandlerFunc(protoEcho))
			b.EnableHTTP2 = true
			b.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
			b.StartTLS()
			t.Cleanup(b.Close)
			return b.Listener.Addr().String(), "protocol: h2\ntls: {ca_file: " + testdataTLS(t, "ca.crt") + ", server_name: localhost}"
		}, "2 tls=true"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr, extra := tc.start(t)
			g := startGateway(t, simpleConfig([]string{addr}, extra, ""))
			c := newClient(t)
			for range 3 {
				if r := get(t, c, g.URL+"/"); r.Status != 200 || r.Body != tc.want {
					t.Fatalf("got %d %q, want 200 %q", r.Status, r.Body, tc.want)
				}
			}
		})
	}
}

// TestUpstreamTLSVerification checks that an unverifiable upstream
// certificate fails the request with 502 and says nothing about why.
func TestUpstreamTLSVerification(t *testing.T) {
	b := newUnstarted(http.HandlerFunc(protoEcho))
	b.EnableHTTP2 = true
	b.StartTLS()
	t.Cleanup(b.Close)
	for _, proto := range []string{"http1", "h2"} {
		t.Run(proto, func(t *testing.T) {
			g := startGateway(t, simpleConfig([]string{b.Listener.Addr().String()},
				"protocol: "+proto+"\ntls: {ca_file: "+testdataTLS(t, "ca.crt")+"}", ""))
			r := get(t, newClient(t), g.URL+"/")
			checkError(t, r, http.StatusBadGateway, "BAD_GATEWAY")
			if strings.Contains(r.Body, "x509") || strings.Contains(r.Body, "certificate") {
				t.Errorf("error leaks TLS details: %s", r.Body)
			}
		})
	}
}

// TestUpstreamKeepAlive checks that sequential requests reuse one
// upstream connection.
func TestUpstreamKeepAlive(t *testing.T) {
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		t.Run(method, func(t *testing.T) {
			b := newBackend(t, named("ok"))
			g := startGateway(t, simpleConfig([]string{b.Addr}, "", ""))
			c := newClient(t)
			for range 20 {
				req := newRequest(t, method, g.URL+"/", strings.NewReader("some body"))
				if r := do(t, c, req); r.Status != 200 {
					t.Fatalf("status %d", r.Status)
				}
			}
			if n := b.Conns.Load(); n != 1 {
				t.Errorf("upstream connections = %d for 20 sequential requests, want 1", n)
			}
		})
	}
}

// TestClientProtocols checks each way a client can reach a listener:
// HTTP/1.1, h2c with prior knowledge, and HTTP/1.1 and h2 over TLS; the
// upstream learns the scheme from X-Forwarded-Proto.
func TestClientProtocols(t *testing.T) {
	b := newBackend(t, protoEcho)
	plain := startGateway(t, simpleConfig([]string{b.Addr}, "", ""))
	tlsCfg := strings.Replace(simpleConfig([]string{b.Addr}, "", ""), "    address: 127.0.0.1:0\n",
		fmt.Sprintf("    address: 127.0.0.1:0\n    protocols: [http1, h2]\n    tls: {cert_file: %s, key_file: %s}\n",
			testdataTLS(t, "server.crt"), testdataTLS(t, "server.key")), 1)
	secure := startGateway(t, tlsCfg)

	pool := x509.NewCertPool()
	caPEM, err := os.ReadFile(testdataTLS(t, "ca.crt"))
	if err != nil || !pool.AppendCertsFromPEM(caPEM) {
		t.Fatalf("ca.crt: %v", err)
	}
	tlsClient := func(h2 bool) *http.Client {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: h2}
		if !h2 {
			tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		}
		t.Cleanup(tr.CloseIdleConnections)
		return &http.Client{Transport: tr}
	}
	tests := []struct {
		name      string
		c         *http.Client
		url       string
		wantMajor int
		wantProto string // X-Forwarded-Proto at the upstream
	}{
		{"http1", newClient(t), plain.URL, 1, "http"},
		{"h2c prior knowledge", newH2CClient(t), plain.URL, 2, "http"},
		{"http1 over tls", tlsClient(false), secure.URL, 1, "https"},
		{"h2 over tls", tlsClient(true), secure.URL, 2, "https"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := tc.c.Get(tc.url + "/")
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			if res.ProtoMajor != tc.wantMajor || res.StatusCode != 200 {
				t.Errorf("client got %s %d, want HTTP/%d 200", res.Proto, res.StatusCode, tc.wantMajor)
			}
			if got := res.Header.Get("X-Seen-Forwarded-Proto"); got != tc.wantProto {
				t.Errorf("upstream X-Forwarded-Proto = %q, want %q", got, tc.wantProto)
			}
			if got := res.Header.Get("X-Seen-Proto"); got != "HTTP/1.1" {
				t.Errorf("upstream saw %s, want HTTP/1.1 (the upstream protocol, not the client's)", got)
			}
		})
	}
}

// testdataTLS returns the absolute path of a file in the repo's testdata/tls.
func testdataTLS(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "testdata", "tls", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestUpstreamMTLS: an upstream that requires client certificates is
// reached with the upstream's cert_file/key_file (over http1 and h2), and
// refuses the proxy without them (502). The upstream sees the SNI of
// server_name and the proxy's certificate.
func TestUpstreamMTLS(t *testing.T) {
	serverCA, clientCA := certstest.NewCA(t), certstest.NewCA(t)
	dir := t.TempDir()
	client := clientCA.ClientLeaf(t, dir, "client", "bouncer-client", "bouncer.test")
	var sni atomic.Value
	b := newUnstarted(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%d cn=%s", r.ProtoMajor, r.TLS.PeerCertificates[0].Subject.CommonName)
	}))
	b.EnableHTTP2 = true
	b.TLS = &tls.Config{
		Certificates: []tls.Certificate{serverCA.TLSCert(t, "api.internal")},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    clientCA.Pool,
		GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			sni.Store(h.ServerName)
			return nil, nil
		},
	}
	b.StartTLS()
	t.Cleanup(b.Close)
	ca := serverCA.CAFile(t, dir)
	for _, proto := range []string{"http1", "h2"} {
		t.Run(proto, func(t *testing.T) {
			g := startGateway(t, simpleConfig([]string{b.Listener.Addr().String()}, fmt.Sprintf(
				"protocol: %s\ntls: {ca_file: %s, server_name: api.internal, cert_file: %s, key_file: %s}", proto, ca, client.CertFile, client.KeyFile), ""))
			want := map[string]string{"http1": "1", "h2": "2"}[proto] + " cn=bouncer-client"
			if r := get(t, newClient(t), g.URL+"/"); r.Status != 200 || r.Body != want {
				t.Fatalf("got %d %q, want 200 %q", r.Status, r.Body, want)
			}
			if sni.Load() != "api.internal" {
				t.Errorf("upstream saw SNI %v", sni.Load())
			}
			anon := startGateway(t, simpleConfig([]string{b.Listener.Addr().String()}, fmt.Sprintf(
				"protocol: %s\ntls: {ca_file: %s, server_name: api.internal}", proto, ca), ""))
			checkError(t, get(t, newClient(t), anon.URL+"/"), http.StatusBadGateway, "BAD_GATEWAY")
		})
	}
}
