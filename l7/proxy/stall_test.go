package proxy_test

import (
	"context"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
)

// stallingBackend starts a backend over HTTP/1.1 or h2c whose first
// answers (while stalls is above zero) are status with a few body bytes,
// then nothing until the test ends; later ones are 200 "ok". It returns
// the address and the upstream's protocol line.
func stallingBackend(t *testing.T, proto string, status int, stalls int64) (string, string) {
	t.Helper()
	release := make(chan struct{})
	var left atomic.Int64
	left.Store(stalls)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if left.Add(-1) < 0 {
			_, _ = io.WriteString(w, "ok")
			return
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	var b *backend
	if proto == "h2c" {
		b = newUnstarted(h2c.NewHandler(h, &http2.Server{}))
	} else {
		b = newUnstarted(h)
	}
	b.Start()
	t.Cleanup(b.Close)
	t.Cleanup(func() { close(release) }) // before Close: handlers return first
	return b.Listener.Addr().String(), "protocol: " + proto
}

// TestRetryAfterStalledBody retries a 503 whose body stalls after a few
// bytes: the abandoned response is closed, not read, so the retry's 200
// arrives well within the route's timeout, over HTTP/1.1 and h2c.
func TestRetryAfterStalledBody(t *testing.T) {
	for _, proto := range []string{"http1", "h2c"} {
		t.Run(proto, func(t *testing.T) {
			addr, upstreamExtra := stallingBackend(t, proto, http.StatusServiceUnavailable, 1)
			g := startGateway(t, simpleConfig([]string{addr}, upstreamExtra,
				"timeout: 1s\nretry: {attempts: 1, retry_on: [503], backoff: 1ms}"))
			c := newClient(t)
			c.Timeout = 3 * time.Second
			start := time.Now()
			r := get(t, c, g.URL+"/")
			if r.Status != http.StatusOK || r.Body != "ok" {
				t.Fatalf("got %d %q, want the retry's 200 ok", r.Status, r.Body)
			}
			if d := time.Since(start); d > time.Second {
				t.Fatalf("took %v, past the 1s route timeout", d)
			}
		})
	}
}

// TestExchangeDoneStalledBody calls Done while the response's body is
// still open and stalled upstream: Done must not wait for it.
func TestExchangeDoneStalledBody(t *testing.T) {
	for _, proto := range []string{"http1", "h2c"} {
		t.Run(proto, func(t *testing.T) {
			addr, upstreamExtra := stallingBackend(t, proto, http.StatusOK, 1)
			p := newExchangeProxyWith(t, []string{addr}, upstreamExtra, "")
			req := exchangeRequest(nil)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			x, gerr := p.Exchange(req.WithContext(ctx), false)
			if gerr != nil {
				t.Fatal(gerr)
			}
			buf := make([]byte, len("partial"))
			if _, err := io.ReadFull(x.Res.Body, buf); err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() { x.Done(http.StatusOK); close(done) }()
			recv(t, done, 2*time.Second, "Done with the body still open")
		})
	}
}
