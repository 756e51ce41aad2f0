package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// TestH2Concurrency sends 300 requests at once to a server that allows
// 10 streams per connection: all succeed, on several connections, none
// of which carries more than 10 at a time.
func TestH2Concurrency(t *testing.T) {
	const total, perConn = 300, 10
	var mu sync.Mutex
	active := map[string]int{}
	peak, inflight := 0, 0
	gate := make(chan struct{})
	var gateOnce sync.Once
	srv := h2tServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		active[r.RemoteAddr]++
		peak = max(peak, active[r.RemoteAddr])
		inflight++
		if inflight >= 2*perConn {
			gateOnce.Do(func() { close(gate) })
		}
		mu.Unlock()
		// Hold the first requests until two connections' worth run at
		// once: a client that does not open a second connection hangs.
		select {
		case <-gate:
		case <-r.Context().Done():
		}
		b, _ := io.ReadAll(r.Body)
		_, _ = io.WriteString(w, r.URL.Path+string(b))
		mu.Lock()
		active[r.RemoteAddr]--
		inflight--
		mu.Unlock()
	}, func(s *http.Server) { s.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: perConn} })
	tr := h2tClient(t, "h2c", nil, 0)
	ctx := h2tCtx(t)
	errs := make(chan error, total)
	for i := range total {
		go func() {
			var body io.Reader
			if i%2 == 1 {
				body = strings.NewReader("+body")
			}
			res, err := tr.RoundTrip(h2tRequest(t, ctx, http.MethodPost, fmt.Sprintf("%s/%d", srv.URL, i), body))
			if err != nil {
				errs <- err
				return
			}
			b, err := io.ReadAll(res.Body)
			_ = res.Body.Close()
			want := fmt.Sprintf("/%d", i)
			if body != nil {
				want += "+body"
			}
			if err == nil && string(b) != want {
				err = fmt.Errorf("request %d got %q", i, b)
			}
			errs <- err
		}()
	}
	for range total {
		if err := h2tRecv(t, errs, "a response"); err != nil {
			t.Error(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(active) < 2 || peak > perConn {
		t.Errorf("%d connections, at most %d streams on one; want several, at most %d", len(active), peak, perConn)
	}
}

// TestH2Cancel cancels requests at each stage and checks the error the
// caller sees, that the server's request context ends (RST_STREAM
// arrived), and that the connection stays usable.
func TestH2Cancel(t *testing.T) {
	entered := make(chan string, 1)
	ended := make(chan string, 1)
	srv := h2tServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/quick":
			_, _ = io.WriteString(w, r.RemoteAddr)
			return
		case "/body":
			_, _ = io.WriteString(w, "first")
			w.(http.Flusher).Flush()
		case "/upload":
			entered <- r.RemoteAddr
			_, _ = io.Copy(io.Discard, r.Body)
			<-r.Context().Done()
			ended <- r.URL.Path
			return
		}
		entered <- r.RemoteAddr
		<-r.Context().Done()
		ended <- r.URL.Path
	}, nil)
	tr := h2tClient(t, "h2c", nil, 0)
	quick := func(t *testing.T) string {
		t.Helper()
		res, err := tr.RoundTrip(h2tRequest(t, h2tCtx(t), http.MethodGet, srv.URL+"/quick", nil))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	t.Run("before the request", func(t *testing.T) {
		ctx, cancel := context.WithCancel(h2tCtx(t))
		cancel()
		_, err := tr.RoundTrip(h2tRequest(t, ctx, http.MethodGet, srv.URL+"/quick", nil))
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v, want context.Canceled", err)
		}
	})
	t.Run("waiting for headers", func(t *testing.T) {
		ctx, cancel := context.WithCancel(h2tCtx(t))
		errc := make(chan error, 1)
		go func() {
			_, err := tr.RoundTrip(h2tRequest(t, ctx, http.MethodGet, srv.URL+"/hold", nil))
			errc <- err
		}()
		h2tRecv(t, entered, "the handler")
		cancel()
		if err := h2tRecv(t, errc, "RoundTrip"); !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v, want context.Canceled", err)
		}
		h2tRecv(t, ended, "the server's request context to end")
	})
	t.Run("reading the body", func(t *testing.T) {
		ctx, cancel := context.WithCancel(h2tCtx(t))
		res, err := tr.RoundTrip(h2tRequest(t, ctx, http.MethodGet, srv.URL+"/body", nil))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if b, err := io.ReadAll(io.LimitReader(res.Body, 5)); err != nil || string(b) != "first" {
			t.Fatalf("first chunk %q, %v", b, err)
		}
		h2tRecv(t, entered, "the handler")
		cancel()
		if _, err := res.Body.Read(make([]byte, 10)); !errors.Is(err, context.Canceled) {
			t.Fatalf("read error %v, want context.Canceled", err)
		}
		h2tRecv(t, ended, "the server's request context to end")
	})
	t.Run("body closed early", func(t *testing.T) {
		res, err := tr.RoundTrip(h2tRequest(t, h2tCtx(t), http.MethodGet, srv.URL+"/body", nil))
		if err != nil {
			t.Fatal(err)
		}
		addr := h2tRecv(t, entered, "the handler")
		_ = res.Body.Close()
		h2tRecv(t, ended, "the server's request context to end")
		if _, err := res.Body.Read(make([]byte, 1)); err == nil || err == io.EOF {
			t.Errorf("read after Close: %v, want an error", err)
		}
		if again := quick(t); again != addr || h2tConns(tr) != 1 {
			t.Errorf("next request from %s on %d connections; want %s, one connection", again, h2tConns(tr), addr)
		}
	})
	t.Run("request body stuck", func(t *testing.T) {
		ctx, cancel := context.WithCancel(h2tCtx(t))
		pr, pw := io.Pipe()
		defer pw.Close()
		body := &h2tClosingBody{r: pr, closed: make(chan struct{})}
		errc := make(chan error, 1)
		go func() {
			_, err := tr.RoundTrip(h2tRequest(t, ctx, http.MethodPost, srv.URL+"/upload", body))
			errc <- err
		}()
		h2tRecv(t, entered, "the handler")
		cancel()
		if err := h2tRecv(t, errc, "RoundTrip"); !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v, want context.Canceled", err)
		}
		h2tRecv(t, ended, "the server's request context to end")
		// RoundTrip must close the request body, even one blocked in Read.
		h2tRecv(t, body.closed, "the request body to be closed")
	})
}

// h2tClosingBody reports its Close, which also ends a blocked Read.
type h2tClosingBody struct {
	r      *io.PipeReader
	closed chan struct{}
	once   sync.Once
}

func (b *h2tClosingBody) Read(p []byte) (int, error) { return b.r.Read(p) }

func (b *h2tClosingBody) Close() error {
	b.once.Do(func() { close(b.closed) })
	return b.r.Close()
}
