package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/bouncer-proxy/bouncer/tls/certstest"
)

// h3Backend is a real HTTP/3 server for one name, answering with that name.
func h3Backend(t *testing.T, ca *certstest.CA, name string) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http3.Server{
		TLSConfig: http3.ConfigureTLSConfig(&tls.Config{Certificates: []tls.Certificate{ca.TLSCert(t, name)}}),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "%s over %s", name, r.Proto)
		}),
	}
	go func() { _ = srv.Serve(pc) }()
	t.Cleanup(func() { _ = srv.Close(); _ = pc.Close() })
	return pc.LocalAddr().String()
}

// TestQUICRoutingBySNI: HTTP/3 clients reach, through one UDP port, the
// backend their TLS server name routes to, and verify that backend's own
// certificate: Bouncer reads the QUIC Initial's ClientHello (post-quantum
// key shares spread it over two datagrams) and terminates nothing.
func TestQUICRoutingBySNI(t *testing.T) {
	ca := certstest.NewCA(t)
	a, b := h3Backend(t, ca, "a.test"), h3Backend(t, ca, "b.test")
	p := startConfig(t, fmt.Sprintf(`admin: {address: "127.0.0.1:0"}
listeners:
  - {name: web, address: "127.0.0.1:0"}
  - {name: quic, address: "127.0.0.1:0", protocols: [udp]}
routes:
  - respond: {status: 200}
l4_routes:
  - {listeners: [quic], match: {sni: [a.test]}, udp: {upstream: a}}
  - {listeners: [quic], match: {sni: ["*.test"], alpn: [h3]}, udp: {upstream: b}}
upstreams:
  a: {endpoints: [%q]}
  b: {endpoints: [%q]}
`, a, b))
	addr := hostPort(p.url("quic"))
	for host, want := range map[string]string{"a.test": "a.test over HTTP/3.0", "b.test": "b.test over HTTP/3.0"} {
		tr := &http3.Transport{
			TLSClientConfig: &tls.Config{RootCAs: ca.Pool},
			Dial: func(ctx context.Context, _ string, tc *tls.Config, qc *quic.Config) (*quic.Conn, error) {
				return quic.DialAddrEarly(ctx, addr, tc, qc)
			},
		}
		res, err := (&http.Client{Transport: tr}).Get("https://" + host + "/")
		if err != nil {
			t.Fatalf("%s: %v", host, err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		_ = tr.Close()
		if string(body) != want {
			t.Errorf("%s: got %q, want %q", host, body, want)
		}
	}
}
