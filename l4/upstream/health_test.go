package upstream

import (
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/bouncer-proxy/bouncer/configs"
)

// recorder collects OnHealthChange calls.
type recorder struct {
	mu  sync.Mutex
	evs []string
}

func (r *recorder) record(up, addr string, healthy bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	state := "down"
	if healthy {
		state = "up"
	}
	r.evs = append(r.evs, up+" "+addr+" "+state)
}

func (r *recorder) events() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.evs)
}

func fastCheck(path string) *configs.HealthCheck {
	return &configs.HealthCheck{
		Path: path, Interval: configs.Duration(10 * time.Millisecond), Timeout: configs.Duration(time.Second),
		ExpectedStatuses: []string{"200"}, HealthyThreshold: 2, UnhealthyThreshold: 2,
	}
}

// readyOf reports whether addr is in c's ready set.
func readyOf(c *Cluster, addr string) bool {
	for _, e := range c.Status().Endpoints {
		if e.Address == addr {
			return e.Ready
		}
	}
	return false
}

func TestHealthCheckDownAndUp(t *testing.T) {
	for _, tlsOn := range []bool{false, true} {
		name := map[bool]string{false: "http", true: "https"}[tlsOn]
		t.Run(name, func(t *testing.T) {
			rec := &recorder{}
			r := newRegistry(t, Options{OnHealthChange: rec.record})
			good, flaky := newBackend(t, tlsOn), newBackend(t, tlsOn)
			cfg := upstreamOf("round_robin", good.addr(), flaky.addr())
			cfg.HealthCheck = fastCheck("/healthz")
			if tlsOn {
				cfg.TLS = &configs.UpstreamTLS{InsecureSkipVerify: true}
			}
			c := build(t, r, "api", cfg)
			r.Activate(map[string]*Cluster{"api": c})
			eventually(t, 5*time.Second, "checks reach the backend", func() bool { return flaky.hits.Load() >= 3 })
			if h, _ := flaky.host.Load().(string); h != flaky.addr()+" /healthz" {
				t.Fatalf("check sent Host and path %q", h)
			}
			if !readyOf(c, flaky.addr()) {
				t.Fatal("a passing endpoint is not ready")
			}

			// Thresholds are 2: two failures take it down, two passes
			// bring it back (one more check may be in flight at a switch).
			checks := flaky.count("/healthz")
			flaky.status.Store(http.StatusInternalServerError)
			eventually(t, 5*time.Second, "flaky marked down", func() bool { return !readyOf(c, flaky.addr()) })
			if n := flaky.count("/healthz") - checks; n < 2 || n > 10 {
				t.Fatalf("went down after %d checks, want 2 (plus any in flight)", n)
			}
			for range 20 {
				if e, _ := c.Pick(0, false, nil); e.Address() == flaky.addr() {
					t.Fatal("picked an unhealthy endpoint")
				}
			}
			checks = flaky.count("/healthz")
			flaky.status.Store(http.StatusOK)
			eventually(t, 5*time.Second, "flaky back up", func() bool { return readyOf(c, flaky.addr()) })
			if n := flaky.count("/healthz") - checks; n < 2 || n > 10 {
				t.Fatalf("came back after %d checks, want 2 (plus any in flight)", n)
			}
			// The callback runs just after the state is published.
			want := []string{"api " + flaky.addr() + " down", "api " + flaky.addr() + " up"}
			eventually(t, 5*time.Second, "OnHealthChange down then up", func() bool { return slices.Equal(rec.events(), want) })
		})
	}
}

// TestHealthFirstFailureMarksDown documents the start state: healthy until
// the first check fails, then down at once although the threshold is 3.
func TestHealthFirstFailureMarksDown(t *testing.T) {
	r := newRegistry(t, Options{})
	good, dead := newBackend(t, false), deadAddr(t)
	cfg := upstreamOf("least_request", good.addr(), dead)
	cfg.HealthCheck = fastCheck("/")
	cfg.HealthCheck.UnhealthyThreshold = 3
	cfg.HealthCheck.Interval = configs.Duration(time.Hour) // only the first round runs
	c := build(t, r, "api", cfg)
	if !readyOf(c, dead) {
		t.Fatal("a new endpoint should start ready")
	}
	r.Activate(map[string]*Cluster{"api": c})
	eventually(t, 5*time.Second, "dead endpoint down after one check", func() bool { return !readyOf(c, dead) })
	if !readyOf(c, good.addr()) {
		t.Fatal("the live endpoint went down")
	}
}

func TestHealthRemovedAtReloadClearsDown(t *testing.T) {
	r := newRegistry(t, Options{})
	b := newBackend(t, false)
	b.status.Store(http.StatusServiceUnavailable)
	cfg := upstreamOf("", b.addr())
	cfg.HealthCheck = fastCheck("/")
	c1 := build(t, r, "api", cfg)
	r.Activate(map[string]*Cluster{"api": c1})
	eventually(t, 5*time.Second, "endpoint down", func() bool { return !readyOf(c1, b.addr()) })
	cfg.HealthCheck = nil
	c2 := build(t, r, "api", cfg)
	if readyOf(c2, b.addr()) {
		t.Fatal("Build alone must not change the serving state")
	}
	r.Activate(map[string]*Cluster{"api": c2})
	if _, err := c2.Pick(0, false, nil); err != nil {
		t.Fatalf("without checks the endpoint must be ready: %v", err)
	}
}

func TestExpectedStatuses(t *testing.T) {
	tests := []struct {
		spec []string
		in   []int
		out  []int
	}{
		{nil, []int{200, 301, 399}, []int{199, 400, 500}},
		{[]string{"200"}, []int{200}, []int{201, 204, 500}},
		{[]string{"200-299", "404"}, []int{200, 299, 404}, []int{300, 403, 503}},
	}
	for _, tt := range tests {
		p, err := newHealthPolicy(&configs.HealthCheck{ExpectedStatuses: tt.spec})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range tt.in {
			if !p.expects(s) {
				t.Errorf("%v: %d should pass", tt.spec, s)
			}
		}
		for _, s := range tt.out {
			if p.expects(s) {
				t.Errorf("%v: %d should fail", tt.spec, s)
			}
		}
	}
	for _, bad := range []string{"", "abc", "299-200", "200-", "42", "200-700"} {
		if _, err := parseStatusRange(bad); err == nil {
			t.Errorf("parseStatusRange(%q) accepted", bad)
		}
	}
}

func TestHealthPolicyDefaults(t *testing.T) {
	p, err := newHealthPolicy(&configs.HealthCheck{Path: "healthz"})
	if err != nil {
		t.Fatal(err)
	}
	if p.path != "/healthz" || p.interval != defaultHealthInterval || p.timeout != defaultHealthTimeout ||
		p.rise != defaultRise || p.fall != defaultFall {
		t.Fatalf("zero values not defaulted: %+v", p)
	}
}
