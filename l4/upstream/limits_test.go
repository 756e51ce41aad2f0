package upstream

import (
	"testing"

	"github.com/bouncer-proxy/bouncer/configs"
)

func TestCircuitBreakerLimits(t *testing.T) {
	r := newRegistry(t, Options{})
	cfg := upstreamOf("", fakeAddrs(1)...)
	cfg.Circuit = configs.CircuitBreaker{MaxRequests: 2, MaxConnections: 1, MaxPending: 3}
	c := build(t, r, "api", cfg)
	tests := []struct {
		name    string
		acquire func() (func(), bool)
		limit   int
	}{
		{"max_requests", c.AcquireRequest, 2},
		{"max_connections", c.AcquireConn, 1},
		{"max_pending", c.AcquirePending, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rels []func()
			for i := range tt.limit {
				rel, ok := tt.acquire()
				if !ok {
					t.Fatalf("acquire %d of %d refused", i+1, tt.limit)
				}
				rels = append(rels, rel)
			}
			if rel, ok := tt.acquire(); ok || rel == nil {
				t.Fatalf("acquire past the limit: ok=%v, release nil=%v", ok, rel == nil)
			}
			rels[0]()
			rel, ok := tt.acquire()
			if !ok {
				t.Fatal("release did not free a slot")
			}
			rel()
			for _, rel := range rels[1:] {
				rel()
			}
		})
	}
	if st := c.Status(); st.Requests != 0 || st.Connections != 0 || st.Pending != 0 {
		t.Fatalf("counters not back to zero: %+v", st)
	}
}

func TestCircuitUnlimited(t *testing.T) {
	r := newRegistry(t, Options{})
	c := build(t, r, "api", upstreamOf("", fakeAddrs(1)...))
	for range 1000 {
		if _, ok := c.AcquireRequest(); !ok {
			t.Fatal("max_requests 0 must not limit")
		}
	}
}

func TestRetryBudget(t *testing.T) {
	tests := []struct {
		name     string
		budget   configs.RetryBudget
		inflight int
		want     int
	}{
		{"min concurrency when idle", configs.RetryBudget{Percent: 20, MinConcurrency: 3}, 0, 3},
		{"percent of requests", configs.RetryBudget{Percent: 20, MinConcurrency: 3}, 50, 10},
		{"zero budget means defaults", configs.RetryBudget{}, 100, 20},
		{"percent only", configs.RetryBudget{Percent: 50}, 4, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRegistry(t, Options{})
			cfg := upstreamOf("", fakeAddrs(1)...)
			cfg.RetryBudget = tt.budget
			c := build(t, r, "api", cfg)
			for range tt.inflight {
				c.AcquireRequest()
			}
			var rels []func()
			for {
				rel, ok := c.AcquireRetry()
				if !ok {
					break
				}
				rels = append(rels, rel)
				if len(rels) > 1000 {
					t.Fatal("retry budget never refuses")
				}
			}
			if len(rels) != tt.want {
				t.Fatalf("%d retries admitted, want %d", len(rels), tt.want)
			}
			rels[0]()
			if _, ok := c.AcquireRetry(); !ok {
				t.Fatal("a released retry did not free budget")
			}
		})
	}
}

// TestCircuitCountersSurviveReload: requests of the old generation still
// count against the new one's limit.
func TestCircuitCountersSurviveReload(t *testing.T) {
	r := newRegistry(t, Options{})
	cfg := upstreamOf("", fakeAddrs(1)...)
	cfg.Circuit.MaxRequests = 1
	old := build(t, r, "api", cfg)
	rel, ok := old.AcquireRequest()
	if !ok {
		t.Fatal("first request refused")
	}
	next := build(t, r, "api", cfg)
	r.Activate(map[string]*Cluster{"api": next})
	if _, ok := next.AcquireRequest(); ok {
		t.Fatal("new generation ignored the old one's request in flight")
	}
	rel()
	if _, ok := next.AcquireRequest(); !ok {
		t.Fatal("release on the old generation did not free the new one")
	}
}
