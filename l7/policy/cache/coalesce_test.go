package cache

import (
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// blockFirst holds the origin's first response until release closes.
func blockFirst(release <-chan struct{}, cc string) originFunc {
	return func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			<-release
		}
		serveBody(200, "Cache-Control", cc)(w, r, n)
	}
}

// waitFor polls cond until it holds, failing after 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond) // bounded poll of a condition
	}
}

// concurrent runs n GETs of /r at once and returns their bodies and
// Cache-Status values.
func concurrent(h *harness, n int) (bodies, statuses []string) {
	bodies, statuses = make([]string, n), make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, body := h.do(http.MethodGet, "/r", nil)
			bodies[i], statuses[i] = body, resp.Header.Get("Cache-Status")
		}()
	}
	wg.Wait()
	return bodies, statuses
}

func TestCoalescing(t *testing.T) {
	release := make(chan struct{})
	h := newHarness(t, Options{}, nil, blockFirst(release, "max-age=60"))
	done := make(chan struct{})
	var bodies, statuses []string
	go func() {
		bodies, statuses = concurrent(h, 50)
		close(done)
	}()
	waitFor(t, "49 waiters", func() bool { return h.cache.Stats().Coalesced == 49 })
	close(release)
	<-done
	if got := h.calls.Load(); got != 1 {
		t.Fatalf("origin calls %d, want 1", got)
	}
	collapsed := 0
	for i, b := range bodies {
		if b != "v1" {
			t.Errorf("request %d: body %q", i, b)
		}
		if strings.Contains(statuses[i], "collapsed") {
			collapsed++
		}
	}
	if collapsed != 49 {
		t.Errorf("%d responses say collapsed, want 49", collapsed)
	}
}

func TestCoalescingUncacheable(t *testing.T) {
	release := make(chan struct{})
	h := newHarness(t, Options{}, nil, blockFirst(release, "no-store"))
	done := make(chan struct{})
	go func() {
		concurrent(h, 10)
		close(done)
	}()
	waitFor(t, "9 waiters", func() bool { return h.cache.Stats().Coalesced == 9 })
	close(release)
	<-done
	if got := h.calls.Load(); got != 10 {
		t.Fatalf("origin calls %d, want 10 (each waiter goes upstream itself)", got)
	}
}

func TestCoalescingWaitBounded(t *testing.T) {
	release := make(chan struct{})
	h := newHarness(t, Options{CoalesceWait: 20 * time.Millisecond}, nil, blockFirst(release, "max-age=60"))
	done := make(chan struct{})
	go func() {
		h.do(http.MethodGet, "/r", nil)
		close(done)
	}()
	waitFor(t, "the first origin call", func() bool { return h.calls.Load() == 1 })
	resp, body := h.do(http.MethodGet, "/r", nil)
	if body != "v2" || !strings.Contains(resp.Header.Get("Cache-Status"), "fwd=uri-miss") {
		t.Errorf("waiter past the bound: body %q, Cache-Status %q", body, resp.Header.Get("Cache-Status"))
	}
	close(release)
	<-done
}

func TestStaleWhileRevalidateRefreshesOnce(t *testing.T) {
	release := make(chan struct{})
	h := newHarness(t, Options{}, nil, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 2 {
			<-release
		}
		serveBody(200, "Cache-Control", "max-age=10, stale-while-revalidate=60")(w, r, n)
	})
	h.do(http.MethodGet, "/r", nil)
	h.clk.Advance(20 * time.Second)
	for i := range 5 {
		resp, body := h.do(http.MethodGet, "/r", nil)
		if body != "v1" || !strings.Contains(resp.Header.Get("Cache-Status"), "stale-while-revalidate") {
			t.Fatalf("stale hit %d: body %q, Cache-Status %q", i, body, resp.Header.Get("Cache-Status"))
		}
	}
	close(release)
	h.waitIdle()
	if got := h.calls.Load(); got != 2 {
		t.Fatalf("origin calls %d, want 2 (one refresh)", got)
	}
	if _, body := h.do(http.MethodGet, "/r", nil); body != "v2" {
		t.Fatalf("after refresh: body %q, want v2", body)
	}
}

func TestPurge(t *testing.T) {
	h := newHarness(t, Options{}, nil, varyOrigin("Accept"))
	for _, p := range []string{"/a/1", "/a/2", "/b"} {
		h.do(http.MethodGet, p, nil)
	}
	base := "http://" + strings.TrimPrefix(h.front.URL, "http://")
	if err := h.cache.Purge(t.Context(), base+"/b"); err != nil {
		t.Fatal(err)
	}
	n, err := h.cache.PurgePrefix(t.Context(), base+"/a/")
	if err != nil || n != 4 { // two markers, two variants
		t.Fatalf("purge prefix: %d, %v; want 4 keys", n, err)
	}
	for _, p := range []string{"/a/1", "/a/2", "/b"} {
		if resp, _ := h.do(http.MethodGet, p, nil); !strings.Contains(resp.Header.Get("Cache-Status"), "fwd=uri-miss") {
			t.Errorf("%s after purge: %s", p, resp.Header.Get("Cache-Status"))
		}
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	for _, o := range []Options{
		{IgnoreQuery: true, KeyQuery: []string{"a"}},
		{MaxObjectBytes: -1},
		{KeepStale: -time.Second},
		{SetCookie: SetCookieMode(9)},
	} {
		if _, err := New(o, NewMemoryStore(0)); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
	if _, err := New(Options{}, nil); err == nil {
		t.Error("New without a store accepted")
	}
}

func TestTrailersPassThroughAMiss(t *testing.T) {
	h := newHarness(t, Options{}, nil, func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Trailer", "X-Sum")
		w.Header().Set("Cache-Control", "max-age=60")
		w.WriteHeader(200)
		_, _ = w.Write([]byte("body"))
		w.Header().Set("X-Sum", "42")
	})
	req, _ := http.NewRequest(http.MethodGet, h.front.URL+"/r", nil)
	resp, err := h.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if got := resp.Trailer.Get("X-Sum"); got != "42" {
		t.Errorf("trailer X-Sum = %q, want 42", got)
	}
	if _, body := h.do(http.MethodGet, "/r", nil); body != "body" {
		t.Errorf("stored body %q", body)
	}
}

func TestOnEvent(t *testing.T) {
	var mu sync.Mutex
	seen := map[Event]int{}
	opts := Options{OnEvent: func(ev Event) {
		mu.Lock()
		seen[ev]++
		mu.Unlock()
	}}
	h := newHarness(t, opts, nil, serveBody(200, "Cache-Control", "max-age=60"))
	h.do(http.MethodGet, "/r", nil)
	h.do(http.MethodGet, "/r", nil)
	h.do(http.MethodGet, "/r", hdr("Range", "bytes=0-0"))
	h.do(http.MethodPost, "/r", nil)
	mu.Lock()
	defer mu.Unlock()
	want := map[Event]int{EventMiss: 1, EventStored: 1, EventHit: 1, EventBypass: 1, EventInvalidate: 1}
	if !reflect.DeepEqual(seen, want) {
		t.Errorf("events %v, want %v", seen, want)
	}
	if st := h.cache.Stats(); st.Hits != 1 || st.Misses != 1 || st.Stored != 1 || st.Bypass != 1 || st.Invalidations != 1 {
		t.Errorf("stats %+v", st)
	}
}
