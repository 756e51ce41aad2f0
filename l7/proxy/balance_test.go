package proxy_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

// TestRoundRobinSpreads checks that round_robin spreads requests evenly,
// and by weight when weights are given.
func TestRoundRobinSpreads(t *testing.T) {
	tests := []struct {
		name    string
		weights []int
		want    []int64
	}{
		{"equal", []int{1, 1, 1}, []int64{10, 10, 10}},
		{"weighted", []int{1, 2, 3}, []int64{5, 10, 15}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var bs []*backend
			var eps []string
			for i, w := range tc.weights {
				b := newBackend(t, named(fmt.Sprint("b", i)))
				bs = append(bs, b)
				eps = append(eps, fmt.Sprintf("{address: %q, weight: %d}", b.Addr, w))
			}
			g := startGateway(t, simpleConfig(eps, "balance: round_robin", ""))
			c := newClient(t)
			for range 30 {
				if r := get(t, c, g.URL+"/"); r.Status != 200 {
					t.Fatalf("status %d", r.Status)
				}
			}
			for i, b := range bs {
				if got := b.Hits.Load(); got != tc.want[i] {
					t.Errorf("backend %d (weight %d) hits = %d, want %d", i, tc.weights[i], got, tc.want[i])
				}
			}
		})
	}
}

// TestRingHashStickiness checks that ring_hash on a header sends every
// request with one key to one backend, and different keys spread.
func TestRingHashStickiness(t *testing.T) {
	var eps []string
	for i := range 3 {
		eps = append(eps, newBackend(t, named(fmt.Sprint("b", i))).Addr)
	}
	g := startGateway(t, simpleConfig(eps, "balance: ring_hash\nhash_on: {header: X-User}", ""))
	c := newClient(t)
	used := map[string]bool{}
	for k := range 12 {
		key := fmt.Sprint("user-", k)
		first := ""
		for range 4 {
			req := newRequest(t, http.MethodGet, g.URL+"/", nil)
			req.Header.Set("X-User", key)
			r := do(t, c, req)
			if first == "" {
				first = r.Body
			}
			if r.Body != first {
				t.Fatalf("key %s went to %s and %s", key, first, r.Body)
			}
		}
		used[first] = true
	}
	if len(used) < 2 {
		t.Errorf("12 keys all went to %v; want them spread", used)
	}
}

// TestOutlierEjection checks that a backend answering 500 is ejected after
// consecutive_5xx failures, that traffic then avoids it, and that it comes
// back after base_ejection_time.
func TestOutlierEjection(t *testing.T) {
	bad := newBackend(t, status("bad", 500))
	good := newBackend(t, named("good"))
	g := startGateway(t, simpleConfig([]string{bad.Addr, good.Addr},
		"outlier_detection: {consecutive_5xx: 2, base_ejection_time: 100ms, max_ejection_percent: 50}", ""))
	c := newClient(t)
	cluster := g.clusters["app"]
	ejected := func() bool {
		for _, ep := range cluster.Status().Endpoints {
			if ep.Address == bad.Addr {
				return ep.Ejected
			}
		}
		t.Fatalf("endpoint %s missing", bad.Addr)
		return false
	}
	for bad.Hits.Load() < 2 {
		r := get(t, c, g.URL+"/")
		if r.Status != 200 && r.Status != 500 {
			t.Fatalf("status %d", r.Status)
		}
	}
	if !ejected() {
		t.Fatal("bad endpoint not ejected after 2 consecutive 500s")
	}
	// While it stays ejected (checked before and after each request, so a
	// slow machine cannot make the 100ms run out unnoticed), every request
	// must go to the good endpoint.
	guarded := 0
	for range 10 {
		before := ejected()
		r := get(t, c, g.URL+"/")
		if before && ejected() {
			guarded++
			if r.Body != "good" {
				t.Fatalf("request went to %q while bad was ejected", r.Body)
			}
		}
	}
	if guarded == 0 {
		t.Error("no request was sent while the endpoint was ejected")
	}
	hitsWhileOut := bad.Hits.Load()
	waitFor(t, 5*time.Second, "the ejected endpoint to return and get traffic", func() bool {
		get(t, c, g.URL+"/")
		return bad.Hits.Load() > hitsWhileOut
	})
}
