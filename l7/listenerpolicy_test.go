package l7_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/bouncer-proxy/bouncer/l7"
	"github.com/bouncer-proxy/bouncer/tls/certstest"
	"github.com/bouncer-proxy/bouncer/tls/localca"
	"github.com/bouncer-proxy/bouncer/tls/mtls"
)

// noFollow is a client that reports redirects instead of following them.
var noFollow = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// A plain listener with redirect_https sends every request to its https
// URL, keeping path and query; ACME HTTP-01 challenges are answered
// before that.
func TestRedirectHTTPS(t *testing.T) {
	g := startTestGateway(t, `admin: {address: "off"}
listeners:
  - {name: web, address: 127.0.0.1:0, redirect_https: {port: 8443, status: 301}}
routes:
  - respond: {status: 200, body: "routed"}
`, gatewayOptions{})
	g.GW.SetChallenge(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/.well-known/acme-challenge/known-token" {
			return false
		}
		_, _ = io.WriteString(w, "key-authorization")
		return true
	})
	for _, c := range []struct {
		method, host, path string
		status             int
		location, body     string
	}{
		{"GET", "example.test", "/a/b?x=1", 301, "https://example.test:8443/a/b?x=1", "moved to https://example.test:8443/a/b?x=1\n"},
		{"GET", "example.test:8080", "/", 301, "https://example.test:8443/", ""},
		{"POST", "[::1]:8080", "/p", 301, "https://[::1]:8443/p", ""},
		{"HEAD", "example.test", "/h", 301, "https://example.test:8443/h", ""},
		{"GET", "example.test", "/.well-known/acme-challenge/known-token", 200, "", "key-authorization"},
		{"GET", "example.test", "/.well-known/acme-challenge/other", 301, "https://example.test:8443/.well-known/acme-challenge/other", ""},
	} {
		req, _ := http.NewRequest(c.method, g.URL+c.path, nil)
		req.Host = c.host
		res, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != c.status || res.Header.Get("Location") != c.location {
			t.Errorf("%s %s%s: %d Location %q, want %d %q", c.method, c.host, c.path, res.StatusCode, res.Header.Get("Location"), c.status, c.location)
		}
		if c.body != "" && string(b) != c.body {
			t.Errorf("%s %s: body %q, want %q", c.method, c.path, b, c.body)
		}
		if c.method == "HEAD" && len(b) != 0 {
			t.Errorf("HEAD got a body %q", b)
		}
	}
}

// HSTS is on every response of a TLS listener, gateway errors included,
// and replaces a Strict-Transport-Security the route set.
func TestHSTS(t *testing.T) {
	ca := certstest.NewCA(t)
	g := tlsGateway(t, ca, "      hsts: {max_age: 8760h, include_subdomains: true, preload: true}")
	c := tlsClient(t, ca, g.Addr, "a.test", true, nil)
	want := "max-age=31536000; includeSubDomains; preload"
	for _, host := range []string{"a.test", "c.test"} { // 200, then 421
		res, err := c.Get("https://" + host + "/")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if got := res.Header.Values("Strict-Transport-Security"); len(got) != 1 || got[0] != want {
			t.Errorf("%s (%d): Strict-Transport-Security %q, want %q", host, res.StatusCode, got, want)
		}
	}
}

func TestHSTSReplacesRoutes(t *testing.T) {
	ca := certstest.NewCA(t)
	a := ca.Leaf(t, t.TempDir(), "a", "ecdsa", "a", "a.test")
	g := startTestGateway(t, fmt.Sprintf(`admin: {address: "off"}
listeners:
  - name: web
    address: 127.0.0.1:0
    protocols: [http1]
    tls: {cert_file: %q, key_file: %q, hsts: {max_age: 1h}}
routes:
  - respond: {status: 200}
    response_headers: {set: {Strict-Transport-Security: max-age=1}}
`, a.CertFile, a.KeyFile), gatewayOptions{})
	res, err := tlsClient(t, ca, g.Addr, "a.test", false, nil).Get("https://a.test/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if got := res.Header.Values("Strict-Transport-Security"); len(got) != 1 || got[0] != "max-age=3600" {
		t.Errorf("Strict-Transport-Security %q", got)
	}
}

// mtlsGateway serves a listener that asks for client certificates signed
// by clientCA (mode optional), with a route that requires one and a proxy
// route that echoes what it would send upstream.
func mtlsGateway(t *testing.T, serverCA, clientCA *certstest.CA, mode string) *testGateway {
	dir := t.TempDir()
	a := serverCA.Leaf(t, dir, "a", "ecdsa", "a", "a.test")
	return startTestGateway(t, fmt.Sprintf(`admin: {address: "off"}
listeners:
  - name: web
    address: 127.0.0.1:0
    protocols: [http1, h2]
    tls:
      cert_file: %q
      key_file: %q
      client_auth: {mode: %s, ca_files: [%q], forward_fields: [Hash, Subject, URI, DNS]}
routes:
  - {name: admin, match: {prefix: /admin}, client_cert: required, proxy: {upstream: app}}
  - {name: open, proxy: {upstream: app}}
upstreams:
  app: {endpoints: [127.0.0.1:1]}
`, a.CertFile, a.KeyFile, mode, clientCA.CAFile(t, dir)), gatewayOptions{})
}

func TestClientCertRoutes(t *testing.T) {
	serverCA, clientCA, otherCA := certstest.NewCA(t), certstest.NewCA(t), certstest.NewCA(t)
	g := mtlsGateway(t, serverCA, clientCA, "optional")
	good := clientCA.ClientCert(t, "alice", "spiffe://example.test/ns/prod/sa/alice", "alice.example.test")
	withCert := tlsClient(t, serverCA, g.Addr, "a.test", true, &tls.Config{Certificates: []tls.Certificate{good}})
	anon := tlsClient(t, serverCA, g.Addr, "a.test", true, nil)

	get := func(c *http.Client, path string, hdr map[string]string) (int, echoed) {
		t.Helper()
		req, _ := http.NewRequest("GET", "https://a.test"+path, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var e echoed
		if res.StatusCode == 200 {
			if err := json.NewDecoder(res.Body).Decode(&e); err != nil {
				t.Fatal(err)
			}
		} else {
			b, _ := io.ReadAll(res.Body)
			if !strings.Contains(string(b), `"code":"FORBIDDEN"`) {
				t.Errorf("%s: body %s", path, b)
			}
		}
		return res.StatusCode, e
	}
	if st, _ := get(anon, "/admin/x", nil); st != http.StatusForbidden {
		t.Errorf("no certificate on a route that requires one: %d, want 403", st)
	}
	st, e := get(anon, "/open", map[string]string{"X-Forwarded-Client-Cert": "Subject=\"CN=forged\""})
	if st != 200 || e.Header.Get("X-Forwarded-Client-Cert") != "" {
		t.Errorf("anonymous: %d, a client-sent XFCC reached the upstream: %q", st, e.Header.Get("X-Forwarded-Client-Cert"))
	}
	st, e = get(withCert, "/admin/x", map[string]string{"X-Forwarded-Client-Cert": "Subject=\"CN=forged\""})
	if st != 200 {
		t.Fatalf("with a certificate: %d", st)
	}
	xfcc := e.Header.Values("X-Forwarded-Client-Cert")
	if len(xfcc) != 1 {
		t.Fatalf("XFCC headers upstream: %q", xfcc)
	}
	els, err := mtls.ParseXFCC(xfcc[0])
	if err != nil || len(els) != 1 {
		t.Fatalf("XFCC %q: %v", xfcc[0], err)
	}
	el := els[0]
	if el["Subject"] != "CN=alice" || el["URI"] != "spiffe://example.test/ns/prod/sa/alice" || el["DNS"] != "alice.example.test" || len(el["Hash"]) != 64 {
		t.Errorf("XFCC = %v", el)
	}
	// Later requests on the connection (h2 above, HTTP/1.1 here) reuse the
	// identity read at the first: the same header, the forged one still
	// replaced. And a connection without a certificate stays anonymous.
	h1 := tlsClient(t, serverCA, g.Addr, "a.test", false, &tls.Config{Certificates: []tls.Certificate{good}})
	for i := range 3 {
		for name, c := range map[string]*http.Client{"h2": withCert, "http/1.1": h1} {
			st, e := get(c, "/admin/x", map[string]string{"X-Forwarded-Client-Cert": "Subject=\"CN=forged\""})
			if got := e.Header.Values("X-Forwarded-Client-Cert"); st != 200 || len(got) != 1 || got[0] != xfcc[0] {
				t.Errorf("%s request %d: %d, XFCC %q, want %q", name, i, st, got, xfcc[0])
			}
		}
		if st, _ := get(anon, "/admin/x", nil); st != http.StatusForbidden {
			t.Errorf("anonymous request %d on a route that requires a certificate: %d", i, st)
		}
	}
	// A reload that changes the forwarded fields changes the header of the
	// connection's next request.
	cfg := *g.cfg
	cfg.Listeners = slices.Clone(cfg.Listeners)
	lt := *cfg.Listeners[0].TLS
	ca := *lt.ClientAuth
	ca.ForwardFields = []string{"Subject"}
	lt.ClientAuth, cfg.Listeners[0].TLS = &ca, &lt
	g.GW.Swap(compileSnapshot(t, &cfg))
	if _, e := get(withCert, "/admin/x", nil); e.Header.Get("X-Forwarded-Client-Cert") != `Subject="CN=alice"` {
		t.Errorf("after the reload: XFCC %q", e.Header.Get("X-Forwarded-Client-Cert"))
	}
	// A certificate from a CA the listener does not trust fails the
	// handshake even in optional mode.
	wrong := tlsClient(t, serverCA, g.Addr, "a.test", true, &tls.Config{Certificates: []tls.Certificate{otherCA.ClientCert(t, "mallory")}})
	if _, err := wrong.Get("https://a.test/open"); err == nil {
		t.Error("a certificate from an untrusted CA was accepted")
	}
}

func TestClientCertRequiredMode(t *testing.T) {
	serverCA, clientCA := certstest.NewCA(t), certstest.NewCA(t)
	g := mtlsGateway(t, serverCA, clientCA, "require")
	if _, err := tlsClient(t, serverCA, g.Addr, "a.test", false, nil).Get("https://a.test/open"); err == nil {
		t.Error("mode require served a client without a certificate")
	}
	c := tlsClient(t, serverCA, g.Addr, "a.test", false, &tls.Config{Certificates: []tls.Certificate{clientCA.ClientCert(t, "bob")}})
	res, err := c.Get("https://a.test/open")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Errorf("status %d", res.StatusCode)
	}
}

// A local_ca listener serves certificates from Bouncer's own CA, which a
// client that trusts the root verifies; static certificates for a name
// come before it.
func TestLocalCAListener(t *testing.T) {
	lca, err := localca.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	static := certstest.NewCA(t)
	a := static.Leaf(t, t.TempDir(), "a", "ecdsa", "static-a", "a.test")
	g := startTestGateway(t, fmt.Sprintf(`admin: {address: "off"}
listeners:
  - name: web
    address: 127.0.0.1:0
    protocols: [http1, h2]
    tls:
      certificates: [{cert_file: %q, key_file: %q}]
      local_ca: {names: [localhost, dev.test]}
      strict_sni: true
routes:
  - respond: {status: 200, body: "hello"}
`, a.CertFile, a.KeyFile), gatewayOptions{server: l7ServerWithLocalCA(lca)})
	local := &certstest.CA{Cert: lca.Cert, Pool: poolOf(lca)}
	r, err := tlsGet(t, tlsClient(t, local, g.Addr, "dev.test", true, nil), "dev.test")
	if err != nil || r.status != 200 || r.cn != "localhost" {
		t.Errorf("dev.test: %+v %v", r, err)
	}
	r, err = tlsGet(t, tlsClient(t, static, g.Addr, "a.test", true, nil), "a.test")
	if err != nil || r.cn != "static-a" {
		t.Errorf("a.test: %+v %v", r, err)
	}
	if _, err := tlsGet(t, tlsClient(t, local, g.Addr, "other.test", true, nil), "other.test"); err == nil {
		t.Error("strict_sni served a name neither source covers")
	}
}

func l7ServerWithLocalCA(ca *localca.CA) l7.ServerOptions { return l7.ServerOptions{LocalCA: ca} }

func poolOf(ca *localca.CA) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// A client-sent X-Forwarded-Client-Cert never reaches an upstream, on a
// listener without client certificates too.
func TestClientSentXFCCRemoved(t *testing.T) {
	g := startTestGateway(t, `admin: {address: "off"}
listeners:
  - {name: web, address: 127.0.0.1:0}
routes:
  - proxy: {upstream: app}
upstreams:
  app: {endpoints: [127.0.0.1:1]}
`, gatewayOptions{})
	req, _ := http.NewRequest("GET", g.URL+"/", nil)
	req.Header.Set("X-Forwarded-Client-Cert", `Hash=00;Subject="CN=admin"`)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var e echoed
	if err := json.NewDecoder(res.Body).Decode(&e); err != nil {
		t.Fatal(err)
	}
	if v := e.Header.Values("X-Forwarded-Client-Cert"); len(v) != 0 {
		t.Errorf("client-sent XFCC reached the upstream: %q", v)
	}
}

// With a custom forward_header, a client-sent X-Forwarded-Client-Cert is
// still removed (docs/tls.md: on every listener), and so is a client-sent
// copy of the custom header; the custom header carries the identity.
func TestClientSentXFCCRemovedWithCustomHeader(t *testing.T) {
	serverCA, clientCA := certstest.NewCA(t), certstest.NewCA(t)
	dir := t.TempDir()
	a := serverCA.Leaf(t, dir, "a", "ecdsa", "a", "a.test")
	g := startTestGateway(t, fmt.Sprintf(`admin: {address: "off"}
listeners:
  - name: web
    address: 127.0.0.1:0
    protocols: [http1]
    tls:
      cert_file: %q
      key_file: %q
      client_auth: {mode: optional, ca_files: [%q], forward_header: X-Client-Cert, forward_fields: [Subject]}
routes:
  - proxy: {upstream: app}
upstreams:
  app: {endpoints: [127.0.0.1:1]}
`, a.CertFile, a.KeyFile, clientCA.CAFile(t, dir)), gatewayOptions{})
	clients := map[string]*http.Client{
		"anonymous":   tlsClient(t, serverCA, g.Addr, "a.test", false, nil),
		"certificate": tlsClient(t, serverCA, g.Addr, "a.test", false, &tls.Config{Certificates: []tls.Certificate{clientCA.ClientCert(t, "alice")}}),
	}
	for name, c := range clients {
		req, _ := http.NewRequest("GET", "https://a.test/", nil)
		req.Header.Set("X-Forwarded-Client-Cert", `Subject="CN=forged"`)
		req.Header.Set("X-Client-Cert", `Subject="CN=forged"`)
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e echoed
		err = json.NewDecoder(res.Body).Decode(&e)
		res.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if v := e.Header.Values("X-Forwarded-Client-Cert"); len(v) != 0 {
			t.Errorf("%s: client-sent X-Forwarded-Client-Cert reached the upstream: %q", name, v)
		}
		want := []string(nil)
		if name == "certificate" {
			want = []string{`Subject="CN=alice"`}
		}
		if v := e.Header.Values("X-Client-Cert"); !slices.Equal(v, want) {
			t.Errorf("%s: X-Client-Cert upstream %q, want %q", name, v, want)
		}
	}
}
