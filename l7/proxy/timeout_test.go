package proxy_test

import (
	"bufio"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"
)

// blocker is a backend handler that blocks until released or until the
// request is cancelled; entered receives one value per request that blocks.
type blocker struct {
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

// newBlocker returns a blocker; callers defer unblock, so that blocked
// handlers end before the gateway's and backends' cleanups wait for them.
func newBlocker() *blocker {
	return &blocker{entered: make(chan struct{}, 16), release: make(chan struct{})}
}

func (b *blocker) unblock() { b.once.Do(func() { close(b.release) }) }

func (b *blocker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.entered <- struct{}{}
	select {
	case <-b.release:
		_, _ = io.WriteString(w, "released")
	case <-r.Context().Done():
	}
}

// TestTimeouts covers the total timeout, the per-try timeout with a retry
// to a fast endpoint, and that neither cuts a body once headers arrived.
func TestTimeouts(t *testing.T) {
	t.Run("total timeout answers 504 GATEWAY_TIMEOUT", func(t *testing.T) {
		bl := newBlocker()
		defer bl.unblock()
		slow := newBackend(t, bl.ServeHTTP)
		g := startGateway(t, simpleConfig([]string{slow.Addr}, "", "timeout: 50ms"))
		start := time.Now()
		r := get(t, newClient(t), g.URL+"/")
		checkError(t, r, http.StatusGatewayTimeout, "GATEWAY_TIMEOUT")
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("504 took %v, want about the 50ms timeout", d)
		}
	})

	t.Run("per-try timeout retried on 504 moves to the fast endpoint", func(t *testing.T) {
		bl := newBlocker()
		defer bl.unblock()
		slow := newBackend(t, bl.ServeHTTP)
		fast := newBackend(t, named("fast"))
		g := startGateway(t, simpleConfig([]string{slow.Addr, fast.Addr}, "",
			"timeout: 5s\nper_try_timeout: 150ms\nretry: {attempts: 1, retry_on: [504], backoff: 1ms}"))
		c := newClient(t)
		for range 4 {
			if r := get(t, c, g.URL+"/"); r.Status != 200 || r.Body != "fast" {
				t.Fatalf("got %d %q, want 200 fast", r.Status, r.Body)
			}
		}
		if fast.Hits.Load() != 4 {
			t.Errorf("fast endpoint hits = %d, want 4", fast.Hits.Load())
		}
		for _, ep := range g.clusters["app"].Status().Endpoints {
			if ep.Address == slow.Addr && ep.Failures < 2 {
				t.Errorf("slow endpoint failures = %d, want >= 2 (half the requests try it first)", ep.Failures)
			}
		}
	})

	t.Run("slow body after headers is not cut by the timeout", func(t *testing.T) {
		const timeout = 40 * time.Millisecond
		streamer := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, "first\n")
			http.NewResponseController(w).Flush()
			select {
			case <-time.After(4 * timeout): // longer than the timeout, by design
			case <-r.Context().Done():
				return
			}
			_, _ = io.WriteString(w, "last\n")
		})
		g := startGateway(t, simpleConfig([]string{streamer.Addr}, "", "timeout: 40ms\nper_try_timeout: 40ms"))
		res, err := newClient(t).Get(g.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		br := bufio.NewReader(res.Body)
		if line, err := br.ReadString('\n'); err != nil || line != "first\n" {
			t.Fatalf("first line %q, %v", line, err)
		}
		rest, err := io.ReadAll(br)
		if err != nil || string(rest) != "last\n" {
			t.Fatalf("rest %q, %v: the stream was cut", rest, err)
		}
	})
}

// TestCircuitBreaker sheds with 503 UNAVAILABLE once max_requests or
// max_connections is reached, and serves again when the slot frees.
func TestCircuitBreaker(t *testing.T) {
	for _, limit := range []string{"max_requests", "max_connections"} {
		t.Run(limit, func(t *testing.T) {
			bl := newBlocker()
			defer bl.unblock()
			b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/slow" {
					bl.ServeHTTP(w, r)
					return
				}
				_, _ = io.WriteString(w, "ok")
			})
			g := startGateway(t, simpleConfig([]string{b.Addr},
				"circuit_breaker: {"+limit+": 1}", "retry: {attempts: 0}"))
			c := newClient(t)
			done := make(chan result, 1)
			go func() {
				res, err := c.Get(g.URL + "/slow")
				if err != nil {
					done <- result{Status: -1, Body: err.Error()}
					return
				}
				body, _ := io.ReadAll(res.Body)
				_ = res.Body.Close()
				done <- result{Status: res.StatusCode, Body: string(body)}
			}()
			recv(t, bl.entered, 5*time.Second, "the slow request to reach the backend")

			r := get(t, c, g.URL+"/fast")
			checkError(t, r, http.StatusServiceUnavailable, "UNAVAILABLE")
			if b.Hits.Load() != 1 {
				t.Errorf("backend hits = %d, want 1 (the shed request must not reach it)", b.Hits.Load())
			}

			bl.unblock()
			if r := recv(t, done, 5*time.Second, "the slow request"); r.Status != 200 {
				t.Fatalf("slow request = %d %q", r.Status, r.Body)
			}
			// The slot is free again (the connection is idle and reused).
			waitFor(t, 5*time.Second, "a request to pass the breaker", func() bool {
				r := get(t, c, g.URL+"/fast")
				if r.Status != 200 {
					t.Logf("%d %s %+v", r.Status, r.Body, g.clusters["app"].Status())
				}
				return r.Status == 200
			})
		})
	}
}
