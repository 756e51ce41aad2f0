package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// TestH2GoAwayShutdown shuts a server down gracefully while a request runs:
// the request completes, and the next one goes on a new connection (to
// the server that took over the address).
func TestH2GoAwayShutdown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	handler := func(name string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/hold" {
				close(entered)
				<-release
			}
			_, _ = io.WriteString(w, name)
		}
	}
	first, second := h2tHandoff(t, ln, handler("one")), h2tHandoff(t, ln, handler("two"))
	var current atomic.Pointer[h2tChanListener]
	current.Store(first.ln)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			l := current.Load()
			select {
			case l.ch <- c:
			case <-l.done:
				_ = c.Close()
			}
		}
	}()
	t.Cleanup(func() { _ = ln.Close() })
	tr := h2tClient(t, "h2c", nil, 0)
	url := "http://" + ln.Addr().String()
	held := make(chan string, 1)
	go func() {
		res, err := tr.RoundTrip(h2tRequest(t, h2tCtx(t), http.MethodGet, url+"/hold", nil))
		if err != nil {
			held <- err.Error()
			return
		}
		b, _ := io.ReadAll(res.Body)
		_ = res.Body.Close()
		held <- string(b)
	}()
	h2tRecv(t, entered, "the held request")
	current.Store(second.ln)
	shut := make(chan error, 1)
	go func() { shut <- first.srv.Shutdown(h2tCtx(t)) }()
	h2tWait(t, "GOAWAY to take the connection out of the pool", func() bool { return h2tConns(tr) == 0 })
	res, err := tr.RoundTrip(h2tRequest(t, h2tCtx(t), http.MethodGet, url+"/next", nil))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if string(b) != "two" {
		t.Errorf("request after GOAWAY answered by %q, want the new server", b)
	}
	close(release)
	if got := h2tRecv(t, held, "the held request"); got != "one" {
		t.Errorf("held request got %q, want its answer from the old server", got)
	}
	if err := h2tRecv(t, shut, "Shutdown"); err != nil {
		t.Error(err)
	}
}

// h2tChanListener is a listener fed connections through ch.
type h2tChanListener struct {
	addr net.Addr
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func (l *h2tChanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *h2tChanListener) Close() error { l.once.Do(func() { close(l.done) }); return nil }

func (l *h2tChanListener) Addr() net.Addr { return l.addr }

type h2tHandoffServer struct {
	srv *http.Server
	ln  *h2tChanListener
}

// h2tHandoff serves h2c with h on a listener fed from ln's connections.
func h2tHandoff(t testing.TB, ln net.Listener, h http.Handler) h2tHandoffServer {
	l := &h2tChanListener{addr: ln.Addr(), ch: make(chan net.Conn), done: make(chan struct{})}
	srv := &http.Server{Handler: h, Protocols: new(http.Protocols)}
	srv.Protocols.SetUnencryptedHTTP2(true)
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return h2tHandoffServer{srv: srv, ln: l}
}

// TestH2GoAwayLastStream sends three streams and a GOAWAY whose last
// stream is the first: that one completes, the body-less one above it is
// retried on a new connection, the one with a body fails as refused.
func TestH2GoAwayLastStream(t *testing.T) {
	got := make(chan string, 3)
	addr := h2tRawServer(t, func(i int, rc *h2tRaw) {
		if i > 0 {
			for {
				h, err := rc.request()
				if err != nil {
					return
				}
				if rc.respond(h.StreamID, "again "+h.PseudoValue("path")) != nil {
					return
				}
			}
		}
		var first uint32
		for n := range 3 {
			h, err := rc.request()
			if err != nil {
				return
			}
			if n == 0 {
				first = h.StreamID
			}
			got <- h.PseudoValue("path")
		}
		if rc.fr.WriteGoAway(first, http2.ErrCodeNo, nil) != nil || rc.respond(first, "first") != nil {
			return
		}
		rc.drain()
	})
	tr := h2tClient(t, "h2c", nil, 0)
	ctx := h2tCtx(t)
	type result struct {
		body string
		err  error
	}
	send := func(path string, body io.Reader) chan result {
		out := make(chan result, 1)
		go func() {
			res, err := tr.RoundTrip(h2tRequest(t, ctx, http.MethodPost, "http://"+addr+path, body))
			if err != nil {
				out <- result{err: err}
				return
			}
			b, err := io.ReadAll(res.Body)
			_ = res.Body.Close()
			out <- result{string(b), err}
		}()
		h2tRecv(t, got, "the server to see "+path)
		return out
	}
	a := send("/a", nil)
	b := send("/b", nil)
	c := send("/c", strings.NewReader("body"))
	if r := h2tRecv(t, a, "/a"); r.err != nil || r.body != "first" {
		t.Errorf("/a: %q, %v", r.body, r.err)
	}
	if r := h2tRecv(t, b, "/b"); r.err != nil || r.body != "again /b" {
		t.Errorf("/b: %q, %v; want it retried on a new connection", r.body, r.err)
	}
	if r := h2tRecv(t, c, "/c"); !errors.Is(r.err, errH2Refused) {
		t.Errorf("/c: %q, %v; want errH2Refused", r.body, r.err)
	}
}

// TestH2ResetStream covers RST_STREAM from the server: mid-body it is a
// read error; REFUSED_STREAM before headers retries a body-less request
// and fails one with a body as refused.
func TestH2ResetStream(t *testing.T) {
	addr := h2tRawServer(t, func(i int, rc *h2tRaw) {
		refuse := true // every other /refuse stream
		for {
			h, err := rc.request()
			if err != nil {
				return
			}
			id := h.StreamID
			switch p := h.PseudoValue("path"); {
			case p == "/mid":
				err = rc.headers(id, false, ":status", "200")
				if err == nil {
					err = rc.fr.WriteData(id, false, []byte("partial"))
				}
				if err == nil {
					err = rc.fr.WriteRSTStream(id, http2.ErrCodeInternal)
				}
			case p == "/body" || refuse:
				refuse = p == "/body"
				err = rc.fr.WriteRSTStream(id, http2.ErrCodeRefusedStream)
			default:
				refuse = true
				err = rc.respond(id, "retried")
			}
			if err != nil {
				return
			}
		}
	})
	tr := h2tClient(t, "h2c", nil, 0)
	url := "http://" + addr
	t.Run("mid-body", func(t *testing.T) {
		res, err := tr.RoundTrip(h2tRequest(t, h2tCtx(t), http.MethodGet, url+"/mid", nil))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		var se http2.StreamError
		if string(b) != "partial" || !errors.As(err, &se) || se.Code != http2.ErrCodeInternal {
			t.Fatalf("read %q, %v; want partial, then the reset", b, err)
		}
	})
	t.Run("refused without body", func(t *testing.T) {
		res, err := tr.RoundTrip(h2tRequest(t, h2tCtx(t), http.MethodGet, url+"/refuse", nil))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if b, err := io.ReadAll(res.Body); err != nil || string(b) != "retried" {
			t.Fatalf("body %q, %v", b, err)
		}
	})
	t.Run("refused with NoBody", func(t *testing.T) {
		res, err := tr.RoundTrip(h2tRequest(t, h2tCtx(t), http.MethodGet, url+"/refuse", http.NoBody))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if b, err := io.ReadAll(res.Body); err != nil || string(b) != "retried" {
			t.Fatalf("body %q, %v", b, err)
		}
	})
	t.Run("refused with body", func(t *testing.T) {
		_, err := tr.RoundTrip(h2tRequest(t, h2tCtx(t), http.MethodPost, url+"/body", strings.NewReader("x")))
		if !errors.Is(err, errH2Refused) {
			t.Fatalf("error %v, want errH2Refused", err)
		}
	})
}

// TestH2IdleTimeout checks a connection without streams is closed after
// the idle timeout.
func TestH2IdleTimeout(t *testing.T) {
	closed := make(chan struct{}, 1)
	srv := h2tServer(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") },
		func(s *http.Server) {
			s.ConnState = func(_ net.Conn, st http.ConnState) {
				if st == http.StateClosed {
					closed <- struct{}{}
				}
			}
		})
	tr := h2tClient(t, "h2c", nil, 50*time.Millisecond)
	res, err := tr.RoundTrip(h2tRequest(t, h2tCtx(t), http.MethodGet, srv.URL, nil))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	_ = res.Body.Close()
	h2tRecv(t, closed, "the idle connection to close")
	if n := h2tConns(tr); n != 0 {
		t.Errorf("%d connections left in the pool", n)
	}
}

// TestH2CloseIdleConnections checks CloseIdleConnections sends GOAWAY and
// closes a connection whose response was read to the end, and leaves a
// connection with a running stream alone.
func TestH2CloseIdleConnections(t *testing.T) {
	goaway := make(chan http2.ErrCode, 2)
	addr := h2tRawServer(t, func(_ int, rc *h2tRaw) {
		for {
			f, err := rc.next()
			if err != nil {
				return
			}
			switch f := f.(type) {
			case *http2.MetaHeadersFrame:
				if f.PseudoValue("path") == "/hold" {
					err = rc.headers(f.StreamID, false, ":status", "200")
				} else {
					err = rc.respond(f.StreamID, "ok")
				}
			case *http2.GoAwayFrame:
				goaway <- f.ErrCode
			}
			if err != nil {
				return
			}
		}
	})
	tr := h2tClient(t, "h2c", nil, 0)
	res, err := tr.RoundTrip(h2tRequest(t, h2tCtx(t), http.MethodGet, "http://"+addr+"/", nil))
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(res.Body); err != nil || string(b) != "ok" {
		t.Fatalf("body %q, %v", b, err)
	}
	_ = res.Body.Close()
	tr.CloseIdleConnections()
	if code := h2tRecv(t, goaway, "GOAWAY"); code != http2.ErrCodeNo {
		t.Errorf("GOAWAY code %v, want NO_ERROR", code)
	}
	if n := h2tConns(tr); n != 0 {
		t.Errorf("%d connections left in the pool", n)
	}

	held, err := tr.RoundTrip(h2tRequest(t, h2tCtx(t), http.MethodGet, "http://"+addr+"/hold", nil))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Body.Close()
	tr.CloseIdleConnections()
	if n := h2tConns(tr); n != 1 {
		t.Errorf("a connection with a running stream was closed: %d left", n)
	}
}

// TestH2ServerClosesAtOnce dials an upstream that accepts and closes every
// connection: the request fails promptly instead of dialing in a loop.
func TestH2ServerClosesAtOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	var accepts atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepts.Add(1)
			_ = c.Close()
		}
	}()
	tr := h2tClient(t, "h2c", nil, 0)
	for range 20 {
		_, err := tr.RoundTrip(h2tRequest(t, h2tCtx(t), http.MethodGet, "http://"+ln.Addr().String()+"/", nil))
		if err == nil || errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("error %v, want the connection's failure", err)
		}
	}
	if n := accepts.Load(); n > 60 {
		t.Errorf("%d connections for 20 requests", n)
	}
}
