package listener

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// h1Fixture is a listener.Server on loopback with an http.Server on its
// HTTP1Listener. The handler records every request it sees.
type h1Fixture struct {
	srv   *Server
	addr  string
	mu    sync.Mutex
	seen  []string // "METHOD URI body"
	berrs []error  // body read errors seen by the handler
}

func (f *h1Fixture) record(r *http.Request, body string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seen = append(f.seen, r.Method+" "+r.RequestURI+" "+body)
	if err != nil {
		f.berrs = append(f.berrs, err)
	}
}

func (f *h1Fixture) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.seen...)
}

// startH1 serves h (nil: an echo handler) behind the strict listener.
func startH1(t testing.TB, opts Options, h http.Handler) *h1Fixture {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts.HTTP1 = true
	f := &h1Fixture{srv: New(l, opts, nil), addr: l.Addr().String()}
	if h == nil {
		h = http.HandlerFunc(f.echo)
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, MaxHeaderBytes: 1 << 20}
	served := make(chan error, 1)
	go func() { served <- f.srv.Serve() }()
	go func() { _ = hs.Serve(f.srv.HTTP1Listener()) }()
	t.Cleanup(func() {
		_ = f.srv.Close()
		_ = hs.Close()
		f.srv.CloseConns()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := f.srv.Wait(ctx); err != nil {
			t.Errorf("wait: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return f
}

// echo answers "METHOD URI body" and the X-Trailer trailer if any.
func (f *h1Fixture) echo(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	f.record(r, string(b), err)
	if err != nil {
		http.Error(w, "body: "+err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("X-Got-Trailer", r.Trailer.Get("X-Trailer"))
	_, _ = io.WriteString(w, r.Method+" "+r.RequestURI+" "+string(b))
}

func dial(t testing.TB, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

// readAll reads until the server closes; it fails on a timeout.
func readAll(t testing.TB, c net.Conn) string {
	t.Helper()
	b, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("server did not close the connection; got %q", b)
	}
	return string(b)
}

// readResponses reads n responses with their bodies.
func readResponses(t testing.TB, br *bufio.Reader, n int) []*http.Response {
	t.Helper()
	var out []*http.Response
	for range n {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response %d: %v", len(out)+1, err)
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("response %d body: %v", len(out)+1, err)
		}
		resp.Body = io.NopCloser(strings.NewReader(string(b)))
		out = append(out, resp)
	}
	return out
}

func bodyOf(t testing.TB, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// poll waits for cond with a bounded deadline.
func poll(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
