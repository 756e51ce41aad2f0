package l7_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/bouncer-proxy/bouncer/configs"
	"github.com/bouncer-proxy/bouncer/l7"
	"github.com/bouncer-proxy/bouncer/listener"
	"github.com/bouncer-proxy/bouncer/tls/certstest"
)

// h3Gen is one server generation of a listener: its HTTP/3 answers name
// it, and /hold waits for release.
type h3Gen struct {
	srv     *l7.Server
	done    chan struct{}
	entered chan struct{}
	release chan struct{}
}

func startH3Gen(t *testing.T, lc configs.Listener, addr, name string, udps *l7.UDPSockets) *h3Gen {
	t.Helper()
	ln, err := listener.ListenTCP(addr, true) // SO_REUSEPORT: the predecessor may still hold it
	if err != nil {
		t.Fatal(err)
	}
	g := &h3Gen{done: make(chan struct{}), entered: make(chan struct{}, 64), release: make(chan struct{})}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			g.entered <- struct{}{}
			<-g.release
		}
		fmt.Fprint(w, name)
	})
	g.srv, err = l7.NewServer(ln, lc, h, l7.ServerOptions{Logger: slog.New(slog.DiscardHandler), UDP: udps})
	if err != nil {
		t.Fatal(err)
	}
	go func() { defer close(g.done); _ = g.srv.Serve() }()
	return g
}

func (g *h3Gen) shutdown(timeout time.Duration) <-chan struct{} {
	out := make(chan struct{})
	go func() {
		defer close(out)
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		_ = g.srv.Shutdown(ctx)
		<-g.done
	}()
	return out
}

// A reload that replaces an HTTP/3 listener's server (its settings
// changed) keeps the UDP socket: requests in flight on the old server's
// connections complete, and new connections reach the new server.
func TestHTTP3ServerHandover(t *testing.T) {
	ca := certstest.NewCA(t)
	leaf := ca.Leaf(t, t.TempDir(), "a", "ecdsa", "a", "a.test")
	listenerCfg := func(idle string) configs.Listener {
		cfg, err := configs.Parse(fmt.Appendf(nil, `admin: {address: "off"}
listeners:
  - name: web
    address: 127.0.0.1:0
    protocols: [http1, h2, h3]
    tls: {cert_file: %q, key_file: %q}
    limits: {idle_timeout: %s}
routes:
  - {match: {prefix: /}, respond: {status: 200}}
`, leaf.CertFile, leaf.KeyFile, idle), "test.yaml")
		if err != nil {
			t.Fatal(err)
		}
		return cfg.Listeners[0]
	}
	udps := l7.NewUDPSockets()
	old := startH3Gen(t, listenerCfg("60s"), "127.0.0.1:0", "old", udps)
	addr := old.srv.Addr().String()

	const conns = 12
	client := func() *http.Client {
		tr := &http3.Transport{
			TLSClientConfig: &tls.Config{RootCAs: ca.Pool},
			Dial: func(ctx context.Context, _ string, tc *tls.Config, qc *quic.Config) (*quic.Conn, error) {
				return quic.DialAddrEarly(ctx, addr, tc, qc)
			},
		}
		t.Cleanup(func() { _ = tr.Close() })
		return &http.Client{Transport: tr, Timeout: 10 * time.Second}
	}
	get := func(c *http.Client, path string) (string, error) {
		res, err := c.Get("https://a.test" + path)
		if err != nil {
			return "", err
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		return string(b), err
	}
	held := make(chan string, conns)
	for range conns {
		c := client()
		go func() {
			body, err := get(c, "/hold")
			if err != nil {
				body = err.Error()
			}
			held <- body
		}()
	}
	for range conns {
		select {
		case <-old.entered:
		case <-time.After(10 * time.Second):
			t.Fatal("held requests did not reach the old server")
		}
	}

	next := startH3Gen(t, listenerCfg("61s"), addr, "new", udps)
	oldDone := old.shutdown(10 * time.Second) // retired: drains in the background
	t.Cleanup(func() { <-next.shutdown(2 * time.Second) })
	// Until the old server has stopped accepting, a new connection may
	// still reach it (and is served); every one is served, and from the
	// handover on by the new server.
	deadline := time.Now().Add(10 * time.Second)
	for {
		body, err := get(client(), "/")
		if err != nil {
			t.Fatalf("a new connection during the handover: %v", err)
		}
		if body == "new" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no new connection reached the new server within 10s")
		}
	}
	for i := range conns {
		if body, err := get(client(), "/"); err != nil || body != "new" {
			t.Errorf("new connection %d after the handover: %q, %v; want the new server", i, body, err)
		}
	}
	close(old.release)
	for i := range conns {
		if body := <-held; body != "old" {
			t.Errorf("request %d in flight on the old server: %q, want its answer", i, body)
		}
	}
	select {
	case <-oldDone:
	case <-time.After(10 * time.Second):
		t.Fatal("the old server did not finish its drain")
	}
	if body, err := get(client(), "/"); err != nil || body != "new" {
		t.Errorf("after the old server is gone: %q, %v", body, err)
	}
	if !strings.Contains(next.srv.Addr().String(), addr[strings.LastIndexByte(addr, ':'):]) {
		t.Fatalf("new server on %s, want the old one's port", next.srv.Addr())
	}
}
