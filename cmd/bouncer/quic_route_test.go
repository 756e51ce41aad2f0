package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

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

// TestUpstreamHTTP3: a route proxies to an upstream over HTTP/3 (QUIC),
// verifying its certificate by the tls block, with a request body and the
// answer streamed back, and the upstream's health checked over HTTP/3.
func TestUpstreamHTTP3(t *testing.T) {
	ca := certstest.NewCA(t)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var health atomic.Int64
	srv := &http3.Server{
		TLSConfig: http3.ConfigureTLSConfig(&tls.Config{Certificates: []tls.Certificate{ca.TLSCert(t, "h3.test")}}),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/healthz" {
				health.Add(1)
				return
			}
			body, _ := io.ReadAll(r.Body)
			w.Header().Set("X-Upstream-Proto", r.Proto)
			fmt.Fprintf(w, "%s %s %s", r.Method, r.URL.Path, body)
		}),
	}
	go func() { _ = srv.Serve(pc) }()
	t.Cleanup(func() { _ = srv.Close(); _ = pc.Close() })
	p := startConfig(t, fmt.Sprintf(`admin: {address: "127.0.0.1:0"}
listeners:
  - {name: web, address: "127.0.0.1:0"}
routes:
  - match: {prefix: /bad}
    proxy: {upstream: wrong-name}
  - proxy: {upstream: quic}
upstreams:
  quic:
    endpoints: [%[1]q]
    protocol: h3
    tls: {ca_file: %[2]q, server_name: h3.test}
    health_check: {path: /healthz, interval: 100ms}
  wrong-name:
    endpoints: [%[1]q]
    protocol: h3
    tls: {ca_file: %[2]q, server_name: other.test}
`, pc.LocalAddr().String(), ca.CAFile(t, t.TempDir())))
	req, _ := http.NewRequest("POST", p.url("web")+"/items", strings.NewReader("hello over quic"))
	res, err := h1Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(body) != "POST /items hello over quic" || res.Header.Get("X-Upstream-Proto") != "HTTP/3.0" {
		t.Fatalf("through an h3 upstream: %d %q %v", res.StatusCode, body, res.Header)
	}
	eventually(t, 5*time.Second, "health checks over HTTP/3", func() bool { return health.Load() >= 2 })
	if r := send(t, "GET", p.url("web")+"/bad", nil); r.status != 502 || strings.Contains(r.body, "x509") {
		t.Fatalf("an upstream whose certificate is not for the server name: %d %s (want 502, no internals)", r.status, r.body)
	}
}
