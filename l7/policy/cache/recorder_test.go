package cache

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// A response cut short is not stored and served later as a complete hit,
// even when the upstream handler returns normally: the proxy's copy just
// ends when the client goes away in the middle of a body of unknown
// length (the request's context ends), and a body may fall short of its
// Content-Length.
func TestTruncatedBodyNotStored(t *testing.T) {
	for _, tc := range []struct {
		name  string
		first func(w http.ResponseWriter, r *http.Request) // the truncated response
		leave bool                                         // the client leaves after the first bytes
	}{
		{name: "client gone, no Content-Length", leave: true, first: func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "part-")
			_ = http.NewResponseController(w).Flush()
			<-r.Context().Done() // the copy stops, without an error
		}},
		{name: "short of Content-Length", first: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Length", "20")
			_, _ = io.WriteString(w, "part-")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int64
			front, served := truncatingFront(t, &calls, tc.first)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, front.URL+"/r", nil)
			resp, err := front.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			part := make([]byte, len("part-"))
			if _, err := io.ReadFull(resp.Body, part); err != nil {
				t.Fatal(err)
			}
			if tc.leave {
				cancel()
			}
			_ = resp.Body.Close()
			select {
			case <-served:
			case <-time.After(10 * time.Second):
				t.Fatal("the first response never ended")
			}
			resp, err = front.Client().Get(front.URL + "/r")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if string(body) != "the whole body" || calls.Load() != 2 {
				t.Fatalf("after a truncated response: %q (Cache-Status %q, %d upstream calls), want the whole body from upstream",
					body, resp.Header.Get("Cache-Status"), calls.Load())
			}
		})
	}
}

// truncatingFront serves a cache whose upstream answers its first request
// with first and later ones with the whole body; served receives when a
// request has been through the cache.
func truncatingFront(t *testing.T, calls *atomic.Int64, first http.HandlerFunc) (*httptest.Server, chan struct{}) {
	c, err := New(Options{}, NewMemoryStore(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	wrapped := c.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		if calls.Add(1) == 1 {
			first(w, r)
			return
		}
		_, _ = io.WriteString(w, "the whole body")
	}))
	served := make(chan struct{}, 2)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wrapped.ServeHTTP(w, r)
		served <- struct{}{}
	}))
	t.Cleanup(front.Close)
	return front, served
}
