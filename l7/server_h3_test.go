package l7_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/bouncer-proxy/bouncer/tls/certstest"
)

// A listener with h3 serves the same routes over HTTP/3 on the UDP port
// of its address, and advertises it on h1 and h2 responses (Alt-Svc,
// with the configured max age), replacing a route's own Alt-Svc.
func TestListenerHTTP3(t *testing.T) {
	ca := certstest.NewCA(t)
	a := ca.Leaf(t, t.TempDir(), "a", "ecdsa", "a", "a.test")
	g := startTestGateway(t, fmt.Sprintf(`admin: {address: "off"}
listeners:
  - name: web
    address: 127.0.0.1:0
    protocols: [http1, h2, h3]
    tls: {cert_file: %q, key_file: %q, hsts: {max_age: 1h}}
    http3: {alt_svc_max_age: 1h}
routes:
  - match: {path: /echo}
    respond: {status: 200, body: "hello"}
    response_headers: {set: {Alt-Svc: 'h3=":1"'}}
  - {match: {prefix: /}, proxy: {upstream: app}}
upstreams:
  app: {endpoints: [127.0.0.1:1]}
`, a.CertFile, a.KeyFile), gatewayOptions{})
	port := g.Addr[strings.LastIndexByte(g.Addr, ':')+1:]
	wantAltSvc := `h3=":` + port + `"; ma=3600`
	for _, h2 := range []bool{false, true} {
		res, err := tlsClient(t, ca, g.Addr, "a.test", h2, nil).Get("https://a.test/echo")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if got := res.Header.Values("Alt-Svc"); len(got) != 1 || got[0] != wantAltSvc {
			t.Errorf("%s: Alt-Svc %q, want %q", res.Proto, got, wantAltSvc)
		}
	}

	tr := &http3.Transport{
		TLSClientConfig: &tls.Config{RootCAs: ca.Pool},
		Dial: func(ctx context.Context, _ string, tc *tls.Config, qc *quic.Config) (*quic.Conn, error) {
			return quic.DialAddrEarly(ctx, g.Addr, tc, qc) // a.test is 127.0.0.1
		},
	}
	t.Cleanup(func() { _ = tr.Close() })
	c := &http.Client{Transport: tr}
	res, err := c.Get("https://a.test:" + port + "/echo")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.Proto != "HTTP/3.0" || res.StatusCode != 200 || string(b) != "hello" {
		t.Errorf("h3: %s %d %q", res.Proto, res.StatusCode, b)
	}
	if v := res.Header.Values("Alt-Svc"); len(v) != 0 {
		t.Errorf("h3 response carries Alt-Svc %q", v)
	}
	if v := res.Header.Get("Strict-Transport-Security"); v != "max-age=3600" {
		t.Errorf("h3 response: Strict-Transport-Security %q", v)
	}
	// A POST with a body reaches the route as over h1 and h2 (the echo
	// terminal reports what it got).
	res, err = c.Post("https://a.test:"+port+"/p", "text/plain", strings.NewReader("body"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(b), `"Route":"route-1"`) {
		t.Errorf("h3 POST: %d %s", res.StatusCode, b)
	}
}
