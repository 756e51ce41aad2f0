package policy

import (
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/bouncer-proxy/bouncer/configs"
)

// storePolicies is a config with one local rate limit and one memory
// cache, sized as given; redis switches the rate limit to Redis.
func storePolicies(maxKeys int, maxBytes configs.Size, redis bool) *configs.Config {
	rl := &configs.RateLimitPolicy{Key: "client_ip", Store: "local", MaxKeys: maxKeys,
		Limits: []configs.RateLimit{{Requests: 1, Per: configs.Duration(time.Hour)}}}
	if redis {
		rl.Store = "redis"
	}
	return &configs.Config{
		Redis: &configs.RedisServer{Address: "127.0.0.1:1", Timeout: configs.Duration(50 * time.Millisecond)},
		Policies: map[string]configs.Policy{
			"limit": {RateLimit: rl},
			"cache": {Cache: &configs.CachePolicy{Store: "memory", MaxBytes: maxBytes}},
		},
	}
}

// Retain keeps exactly the stores the serving generation uses: a reload
// that only resizes a policy, or moves it to Redis, drops the old store
// instead of keeping it for as long as the policy's name lives.
func TestStateRetainExactStores(t *testing.T) {
	st := NewState(nil, nil)
	t.Cleanup(st.Close)
	gen := func(cfg *configs.Config) *Set {
		t.Helper()
		s, errs := Build(cfg, st)
		if errs != nil {
			t.Fatal(errs)
		}
		t.Cleanup(s.Close)
		st.Retain(s)
		return s
	}
	counts := func() (int, int) {
		st.mu.Lock()
		defer st.mu.Unlock()
		return len(st.local), len(st.caches)
	}
	gen(storePolicies(100, 1<<20, false))
	st.mu.Lock()
	first := st.local["ratelimit/limit/100"]
	st.mu.Unlock()
	gen(storePolicies(100, 1<<20, false))
	if l, c := counts(); l != 1 || c != 1 {
		t.Fatalf("same config: %d rate-limit and %d cache stores kept, want 1 and 1", l, c)
	}
	st.mu.Lock()
	same := st.local["ratelimit/limit/100"] == first
	st.mu.Unlock()
	if !same {
		t.Fatal("an unchanged policy lost its counters on reload")
	}
	for i, cfg := range []*configs.Config{storePolicies(200, 2<<20, false), storePolicies(300, 3<<20, false)} {
		gen(cfg)
		if l, c := counts(); l != 1 || c != 1 {
			t.Fatalf("resize %d: %d rate-limit and %d cache stores kept, want 1 and 1", i, l, c)
		}
	}
	gen(storePolicies(300, 3<<20, true))
	if l, c := counts(); l != 0 || c != 1 {
		t.Fatalf("rate limit moved to redis: %d local stores kept, want 0 (caches %d)", l, c)
	}
	st.Retain(nil)
	if l, c := counts(); l != 0 || c != 0 {
		t.Fatalf("Retain(nil) kept %d and %d stores", l, c)
	}
}

// A Redis cache waits on a silent Redis for redis.timeout, not the
// cache store's own default of 500ms. The timeout is set above that
// default so that the check is a lower bound, which load cannot break.
func TestRedisCacheUsesRedisTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() { // accepts and never answers
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				_ = c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	const timeout = 1200 * time.Millisecond
	st := NewState(nil, nil)
	t.Cleanup(st.Close)
	set, errs := Build(&configs.Config{
		Redis:    &configs.RedisServer{Address: ln.Addr().String(), Timeout: configs.Duration(timeout)},
		Policies: map[string]configs.Policy{"cache": {Cache: &configs.CachePolicy{Store: "redis", MaxObjectBytes: 1 << 20}}},
	}, st)
	if errs != nil {
		t.Fatal(errs)
	}
	t.Cleanup(set.Close)
	start := time.Now()
	var waited time.Duration
	h := set.Chain([]string{"cache"}, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		waited = time.Since(start) // the lookup, which timed out, came first
		w.Header().Set("Cache-Control", "no-store")
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/r", nil))
	if waited < timeout {
		t.Fatalf("the cache gave up on Redis after %v; redis.timeout is %v", waited, timeout)
	}
}
