package listener

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bouncer-proxy/bouncer/tls/certstest"
	"golang.org/x/net/http2"
)

type tlsStateKey struct{}

// protoHandler answers with the protocol and whether TLS state reached it
// through ConnContext (the documented L7 wiring for HTTP/1.1) or r.TLS (h2).
func protoHandler(w http.ResponseWriter, r *http.Request) {
	tlsOK := r.TLS != nil
	if st, _ := r.Context().Value(tlsStateKey{}).(*tls.ConnectionState); st != nil && st.HandshakeComplete {
		tlsOK = true
	}
	_, _ = io.WriteString(w, r.Proto)
	if tlsOK {
		_, _ = io.WriteString(w, " tls")
	}
}

// startFull serves HTTP/1.1 through HTTP1Listener and HTTP/2 through
// http2.Server.ServeConn, as the L7 layer does.
func startFull(t *testing.T, opts Options) *Server {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h2s := &http2.Server{}
	h := http.HandlerFunc(protoHandler)
	s := New(l, opts, func(c net.Conn) {
		h2s.ServeConn(c, &http2.ServeConnOpts{Handler: h})
	})
	hs := &http.Server{Handler: h, ConnContext: func(ctx context.Context, c net.Conn) context.Context {
		return context.WithValue(ctx, tlsStateKey{}, TLSState(c))
	}}
	served := make(chan error, 1)
	go func() { served <- s.Serve() }()
	go func() { _ = hs.Serve(s.HTTP1Listener()) }()
	t.Cleanup(func() {
		_ = s.Close()
		_ = hs.Close()
		s.CloseConns()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Wait(ctx); err != nil {
			t.Errorf("wait: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return s
}

func get(t *testing.T, client *http.Client, url string) string {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestH2CAndHTTP1OnOnePort(t *testing.T) {
	s := startFull(t, Options{H2C: true, HTTP1: true})
	h2c := &http.Client{Transport: &http2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}}
	defer h2c.CloseIdleConnections()
	url := "http://" + s.Addr().String() + "/"
	if got := get(t, h2c, url); got != "HTTP/2.0" {
		t.Fatalf("h2c got %q", got)
	}
	h1 := &http.Client{Transport: &http.Transport{}}
	defer h1.CloseIdleConnections()
	if got := get(t, h1, url); got != "HTTP/1.1" {
		t.Fatalf("http/1.1 got %q", got)
	}
}

func TestH2COnlyClosesHTTP1(t *testing.T) {
	s := startFull(t, Options{H2C: true})
	c := dial(t, s.Addr().String())
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\n"+hostA+"\r\n"); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, c); got != "" {
		t.Fatalf("got %q", got)
	}
}

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	ca := certstest.NewCA(t)
	return ca.TLSCert(t, "127.0.0.1"), ca.Pool
}

func TestTLSALPN(t *testing.T) {
	cert, pool := selfSigned(t)
	s := startFull(t, Options{TLS: &tls.Config{Certificates: []tls.Certificate{cert}}, HTTP1: true, HandshakeTimeout: 200 * time.Millisecond})
	url := "https://" + s.Addr().String() + "/"

	// A client that never handshakes is dropped and does not hold up others.
	idle := dial(t, s.Addr().String())

	h2 := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	defer h2.CloseIdleConnections()
	if got := get(t, h2, url); got != "HTTP/2.0 tls" {
		t.Fatalf("alpn h2 got %q", got)
	}
	h1 := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, NextProtos: []string{"http/1.1"}},
		TLSNextProto:    map[string]func(string, *tls.Conn) http.RoundTripper{},
	}}
	defer h1.CloseIdleConnections()
	if got := get(t, h1, url); got != "HTTP/1.1 tls" {
		t.Fatalf("alpn http/1.1 got %q", got)
	}
	if got := readAll(t, idle); got != "" {
		t.Fatalf("idle client got %q", got)
	}
}

// TestTLSH2PrefaceTimeout: a client whose ALPN chose h2 but that sends no
// preface is closed after HandshakeTimeout and frees its slot; one that
// sends it, even in pieces, is served.
func TestTLSH2PrefaceTimeout(t *testing.T) {
	cert, pool := selfSigned(t)
	const timeout = 200 * time.Millisecond
	s := startFull(t, Options{TLS: &tls.Config{Certificates: []tls.Certificate{cert}}, HTTP1: true, HandshakeTimeout: timeout})
	dialH2 := func() *tls.Conn {
		t.Helper()
		c, err := tls.Dial("tcp", s.Addr().String(), &tls.Config{RootCAs: pool, NextProtos: []string{"h2"}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if p := c.ConnectionState().NegotiatedProtocol; p != "h2" {
			t.Fatalf("ALPN chose %q", p)
		}
		return c
	}

	silent := dialH2()
	begin := time.Now()
	if got := readAll(t, silent); got != "" {
		t.Fatalf("silent client got %q", got)
	}
	if waited := time.Since(begin); waited < timeout/2 {
		t.Errorf("closed after %v, before the timeout", waited)
	}
	poll(t, "the slot to be freed", func() bool { return s.ActiveConns() == 0 })

	c := dialH2()
	for _, part := range []string{http2.ClientPreface[:10], http2.ClientPreface[10:]} {
		if _, err := io.WriteString(c, part); err != nil {
			t.Fatal(err)
		}
	}
	fr := http2.NewFramer(c, c)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	f, err := fr.ReadFrame()
	if err != nil {
		t.Fatalf("after the preface: %v", err)
	}
	if sf, ok := f.(*http2.SettingsFrame); !ok || sf.IsAck() {
		t.Fatalf("first frame %v, want SETTINGS", f)
	}
}

func TestMaxConnections(t *testing.T) {
	var gauge atomic.Int64
	s := startFull(t, Options{HTTP1: true, MaxConnections: 1, OnConn: func(d int) { gauge.Add(int64(d)) }})
	req := "GET / HTTP/1.1\r\n" + hostA + "\r\n"
	first := dial(t, s.Addr().String())
	if _, err := io.WriteString(first, req); err != nil {
		t.Fatal(err)
	}
	readResponses(t, bufio.NewReader(first), 1)

	second := dial(t, s.Addr().String()) // completes in the kernel backlog
	if _, err := io.WriteString(second, req); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(second)
	_ = second.SetReadDeadline(time.Now().Add(150 * time.Millisecond))
	var ne net.Error
	if _, err := br.Peek(1); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("second connection served while the first is open: %v", err)
	}
	if n := s.ActiveConns(); n != 1 || gauge.Load() != 1 {
		t.Fatalf("active %d, gauge %d", n, gauge.Load())
	}
	_ = first.Close()
	_ = second.SetReadDeadline(time.Now().Add(5 * time.Second))
	if got := bodyOf(t, readResponses(t, br, 1)[0]); got != "HTTP/1.1" {
		t.Fatalf("got %q", got)
	}
}

func TestDrain(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var gauge atomic.Int64
	s := New(l, Options{HTTP1: true, OnConn: func(d int) { gauge.Add(int64(d)) }}, nil)
	entered, release := make(chan struct{}), make(chan struct{})
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
	})}
	served := make(chan error, 1)
	go func() { served <- s.Serve() }()
	go func() { _ = hs.Serve(s.HTTP1Listener()) }()
	defer hs.Close()

	busy := dial(t, s.Addr().String())
	if _, err := io.WriteString(busy, "GET / HTTP/1.1\r\n"+hostA+"\r\n"); err != nil {
		t.Fatal(err)
	}
	<-entered
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-served; err != nil {
		t.Fatalf("serve after close: %v", err)
	}
	if c, err := net.Dial("tcp", s.Addr().String()); err == nil {
		c.Close()
		t.Fatal("dial succeeded after Close")
	}
	if n := s.ActiveConns(); n != 1 {
		t.Fatalf("active %d after Close", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("wait with a busy conn: %v", err)
	}
	s.CloseConns()
	close(release)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	if err := s.Wait(ctx2); err != nil {
		t.Fatalf("wait after CloseConns: %v", err)
	}
	if n := s.ActiveConns(); n != 0 || gauge.Load() != 0 {
		t.Fatalf("active %d, gauge %d", n, gauge.Load())
	}
	if got := readAll(t, busy); got != "" {
		t.Fatalf("busy client got %q", got)
	}
}

// Wait returns once the last connection ends by itself.
func TestWaitForNaturalEnd(t *testing.T) {
	s := startFull(t, Options{HTTP1: true})
	c := dial(t, s.Addr().String())
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\n"+hostA+"Connection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	readAll(t, c)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Wait(ctx); err != nil {
		t.Fatal(err)
	}
}
