package proxy_test

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestRetryPolicy sends requests to upstreams made to fail and counts what
// reached the backends: which methods and conditions are retried, and that
// a body already sent is never replayed.
func TestRetryPolicy(t *testing.T) {
	tests := []struct {
		name       string
		backends   []http.HandlerFunc // nil entry: a closed port
		proxyExtra string
		method     string
		body       string
		requests   int
		wantStatus map[int]int // status -> count over all requests
		wantHits   [2]int64    // min and max over all backends (round robin order depends on ports)
	}{
		{
			name:     "GET retried on connect failure to the other endpoint",
			backends: []http.HandlerFunc{nil, named("good")},
			method:   http.MethodGet, requests: 4,
			wantStatus: map[int]int{200: 4}, wantHits: [2]int64{4, 4},
		},
		{
			name:     "POST not retried on connect failure by default",
			backends: []http.HandlerFunc{nil, named("good")},
			method:   http.MethodPost, requests: 4,
			wantStatus: map[int]int{200: 2, 502: 2}, wantHits: [2]int64{2, 2},
		},
		{
			name:     "PUT body replayed intact when the connect failed",
			backends: []http.HandlerFunc{nil, echoBody},
			method:   http.MethodPut, body: "payload", requests: 4,
			wantStatus: map[int]int{200: 4}, wantHits: [2]int64{4, 4},
		},
		{
			name:       "GET retried on 503 reaches the second endpoint",
			backends:   []http.HandlerFunc{status("bad", 503), named("good")},
			proxyExtra: "retry: {attempts: 2, retry_on: [503], backoff: 1ms}",
			method:     http.MethodGet, requests: 4,
			wantStatus: map[int]int{200: 4}, wantHits: [2]int64{6, 8},
		},
		{
			name:       "GET retried on 503 up to attempts, last answer passed through",
			backends:   []http.HandlerFunc{status("a", 503), status("b", 503)},
			proxyExtra: "retry: {attempts: 2, retry_on: [503], backoff: 1ms}",
			method:     http.MethodGet, requests: 1,
			wantStatus: map[int]int{503: 1}, wantHits: [2]int64{3, 3},
		},
		{
			name:       "POST not retried on 503 by default",
			backends:   []http.HandlerFunc{status("a", 503), status("b", 503)},
			proxyExtra: "retry: {attempts: 2, retry_on: [503], backoff: 1ms}",
			method:     http.MethodPost, body: "once", requests: 1,
			wantStatus: map[int]int{503: 1}, wantHits: [2]int64{1, 1},
		},
		{
			name:       "POST without body retried when listed",
			backends:   []http.HandlerFunc{status("a", 503), status("b", 503)},
			proxyExtra: "retry: {attempts: 2, retry_on: [503], methods: [POST], backoff: 1ms}",
			method:     http.MethodPost, requests: 1,
			wantStatus: map[int]int{503: 1}, wantHits: [2]int64{3, 3},
		},
		{
			name:       "POST body already sent is never replayed",
			backends:   []http.HandlerFunc{bodyThen503, bodyThen503},
			proxyExtra: "retry: {attempts: 2, retry_on: [503], methods: [POST], backoff: 1ms}",
			method:     http.MethodPost, body: "sent once", requests: 1,
			wantStatus: map[int]int{503: 1}, wantHits: [2]int64{1, 1},
		},
		{
			name:       "504 not retried unless listed",
			backends:   []http.HandlerFunc{status("a", 504), named("good")},
			proxyExtra: "retry: {attempts: 2, retry_on: [503], backoff: 1ms}",
			method:     http.MethodGet, requests: 2,
			wantStatus: map[int]int{200: 1, 504: 1}, wantHits: [2]int64{2, 2},
		},
		{
			name:       "GET retried after a reset when listed",
			backends:   []http.HandlerFunc{resetConn, named("good")},
			proxyExtra: "retry: {attempts: 1, retry_on: [reset], backoff: 1ms}",
			method:     http.MethodGet, requests: 4,
			wantStatus: map[int]int{200: 4}, wantHits: [2]int64{6, 8},
		},
		{
			name:     "GET not retried after a reset by default",
			backends: []http.HandlerFunc{resetConn, named("good")},
			method:   http.MethodGet, requests: 4,
			wantStatus: map[int]int{200: 2, 502: 2}, wantHits: [2]int64{4, 4},
		},
		{
			name:       "attempts 0 disables retries",
			backends:   []http.HandlerFunc{nil, named("good")},
			proxyExtra: "retry: {attempts: 0}",
			method:     http.MethodGet, requests: 4,
			wantStatus: map[int]int{200: 2, 502: 2}, wantHits: [2]int64{2, 2},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var addrs []string
			var bs []*backend
			var mu sync.Mutex
			var bodies []string
			for _, h := range tc.backends {
				if h == nil {
					addrs = append(addrs, closedAddr(t))
					continue
				}
				b := newBackend(t, recordBody(&mu, &bodies, h))
				bs = append(bs, b)
				addrs = append(addrs, b.Addr)
			}
			g := startGateway(t, simpleConfig(addrs, "", tc.proxyExtra))
			c := newClient(t)
			got := map[int]int{}
			for range tc.requests {
				var body io.Reader
				if tc.body != "" {
					body = strings.NewReader(tc.body)
				}
				r := do(t, c, newRequest(t, tc.method, g.URL+"/x", body))
				got[r.Status]++
				if r.Status == http.StatusBadGateway {
					checkError(t, r, http.StatusBadGateway, "BAD_GATEWAY")
				}
			}
			if !equalCounts(got, tc.wantStatus) {
				t.Errorf("statuses = %v, want %v", got, tc.wantStatus)
			}
			var hits int64
			for _, b := range bs {
				hits += b.Hits.Load()
			}
			if hits < tc.wantHits[0] || hits > tc.wantHits[1] {
				t.Errorf("backend hits = %d, want %d..%d", hits, tc.wantHits[0], tc.wantHits[1])
			}
			mu.Lock()
			defer mu.Unlock()
			for _, b := range bodies {
				if tc.body != "" && b != tc.body {
					t.Errorf("backend received body %q, want %q", b, tc.body)
				}
			}
		})
	}
}

// echoBody answers 200 with the request body.
func echoBody(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	_, _ = w.Write(b)
}

// bodyThen503 reads the whole body, then answers 503.
func bodyThen503(w http.ResponseWriter, r *http.Request) {
	_, _ = io.ReadAll(r.Body)
	w.WriteHeader(http.StatusServiceUnavailable)
}

// recordBody runs h after noting the request body in bodies.
func recordBody(mu *sync.Mutex, bodies *[]string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		*bodies = append(*bodies, string(b))
		mu.Unlock()
		r.Body = io.NopCloser(strings.NewReader(string(b)))
		h(w, r)
	}
}

func equalCounts(a, b map[int]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestRetryBudget holds one retry in flight and checks that a second
// request's retry is refused by the budget (percent 0, one retry at a
// time), so the client gets the first failure and the backend one hit.
func TestRetryBudget(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{} // hits per X-Key, over both backends
	holding := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	h := func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("X-Key")
		mu.Lock()
		seen[key]++
		n := seen[key]
		mu.Unlock()
		if n == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if key == "hold" {
			once.Do(func() { close(holding) })
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		_, _ = io.WriteString(w, "retried")
	}
	a, b := newBackend(t, h), newBackend(t, h)
	var releaseOnce sync.Once
	unblock := func() { releaseOnce.Do(func() { close(release) }) }
	defer unblock()
	g := startGateway(t, simpleConfig([]string{a.Addr, b.Addr},
		"retry_budget: {percent: 0, min_retry_concurrency: 1}",
		"retry: {attempts: 1, retry_on: [503], backoff: 1ms}"))
	c := newClient(t)

	first := make(chan result, 1)
	go func() {
		req := newRequest(t, http.MethodGet, g.URL+"/", nil)
		req.Header.Set("X-Key", "hold")
		res, err := c.Do(req)
		if err != nil {
			first <- result{Status: -1, Body: err.Error()}
			return
		}
		body, _ := io.ReadAll(res.Body)
		_ = res.Body.Close()
		first <- result{Status: res.StatusCode, Body: string(body)}
	}()
	recv(t, holding, 5*time.Second, "the first request's retry to be in flight")

	req := newRequest(t, http.MethodGet, g.URL+"/", nil)
	req.Header.Set("X-Key", "shed")
	r := do(t, c, req)
	if r.Status != http.StatusServiceUnavailable {
		t.Errorf("second request: status %d, want the upstream's 503 (retry refused by the budget)", r.Status)
	}
	mu.Lock()
	if seen["shed"] != 1 {
		t.Errorf("second request reached backends %d times, want 1", seen["shed"])
	}
	mu.Unlock()

	unblock()
	if r := recv(t, first, 5*time.Second, "the first request"); r.Status != 200 || r.Body != "retried" {
		t.Errorf("first request = %d %q, want 200 retried", r.Status, r.Body)
	}
	// With nothing else in flight the budget admits a retry again.
	req = newRequest(t, http.MethodGet, g.URL+"/", nil)
	req.Header.Set("X-Key", "later")
	if r := do(t, c, req); r.Status != 200 {
		t.Errorf("later request: status %d, want 200 after a retry", r.Status)
	}
	if st := g.clusters["app"].Status(); st.Retries != 0 {
		t.Errorf("retries in flight after all requests = %d, want 0", st.Retries)
	}
}

// TestRetryAcrossConnectFailureCountsEndpoint checks that the failed
// endpoint's connect failure was reported to the cluster.
func TestRetryAcrossConnectFailureCountsEndpoint(t *testing.T) {
	good := newBackend(t, named("good"))
	dead := closedAddr(t)
	g := startGateway(t, simpleConfig([]string{dead, good.Addr}, "", ""))
	c := newClient(t)
	for range 4 {
		if r := get(t, c, g.URL+"/"); r.Status != 200 || r.Body != "good" {
			t.Fatalf("got %d %q, want 200 good", r.Status, r.Body)
		}
	}
	var failures uint64
	for _, ep := range g.clusters["app"].Status().Endpoints {
		if ep.Address == dead {
			failures = ep.Failures
		}
	}
	if failures < 2 {
		t.Errorf("dead endpoint failures = %d, want >= 2 (half the requests try it first)", failures)
	}
}
