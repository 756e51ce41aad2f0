package upstream

import (
	"encoding/json"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/bouncer-proxy/bouncer/configs"
)

func TestStateSurvivesBuild(t *testing.T) {
	r := newRegistry(t, Options{})
	addrs := fakeAddrs(3)
	cfg := upstreamOf("round_robin", addrs[:2]...)
	cfg.Outlier = outlierFast()
	c1 := build(t, r, "api", cfg)
	r.Activate(map[string]*Cluster{"api": c1})
	down := c1.Endpoints()[0]
	ejectNow(down)
	busy := c1.Endpoints()[1]
	busy.Start()

	cfg.Endpoints = append(cfg.Endpoints, configs.Endpoint{Address: addrs[2], Weight: 4})
	c2 := build(t, r, "api", cfg)
	if eps := c2.Endpoints(); eps[0] != down || eps[1] != busy {
		t.Fatal("new generation did not reuse the endpoints of the same addresses")
	}
	st := statusOf(c2, down.Address())
	if !st.Ejected || st.Failures != 1 || statusOf(c2, busy.Address()).InFlight != 1 {
		t.Fatalf("state lost across Build: %+v", c2.Status())
	}
	if w := statusOf(c2, addrs[2]).Weight; w != 4 {
		t.Fatalf("new generation's weight = %d, want 4", w)
	}
	for range 20 {
		if e, _ := c2.Pick(0, false, nil); e == down {
			t.Fatal("new generation picked an endpoint ejected in the old one")
		}
	}
	other := build(t, r, "other", cfg)
	if other.Endpoints()[0] == down || !statusOf(other, down.Address()).Ready {
		t.Fatal("state leaked to another upstream with the same address")
	}
}

// TestActivateStopsOldLoops swaps generations with live health and DNS
// loops and checks that the old loops stop and nothing leaks.
func TestActivateStopsOldLoops(t *testing.T) {
	before := runtime.NumGoroutine()
	b := newBackend(t, false)
	dns := &fakeResolver{}
	dns.set("localhost.test", "127.0.0.2") // nothing listens there: checks fail, loops run
	r := NewRegistry(Options{LookupHost: dns.lookup})
	port := b.addr()[strings.LastIndexByte(b.addr(), ':'):]
	gen := func(path string) *Cluster {
		cfg := upstreamOf("", b.addr(), "localhost.test"+port)
		cfg.HealthCheck = fastCheck(path)
		cfg.HealthCheck.Interval = configs.Duration(2 * time.Millisecond)
		cfg.DNSRefresh = configs.Duration(2 * time.Millisecond)
		return build(t, r, "api", cfg)
	}
	c1 := gen("/one")
	r.Activate(map[string]*Cluster{"api": c1})
	run := c1.run
	r.Activate(map[string]*Cluster{"api": c1})
	if c1.run != run {
		t.Fatal("Activate with the same set restarted the loops")
	}
	eventually(t, 5*time.Second, "gen 1 checks", func() bool { return b.count("/one") > 0 })

	c2 := gen("/two")
	r.Activate(map[string]*Cluster{"api": c2})
	if c1.run != nil {
		t.Fatal("old generation still marked running")
	}
	// Activate waited for gen 1's loops; at most one check it had already
	// sent may still reach the server.
	calls, one := dns.calls.Load(), b.count("/one")
	eventually(t, 5*time.Second, "gen 2 checks and refreshes", func() bool {
		return b.count("/two") >= 10 && dns.calls.Load() > calls+3
	})
	if n := b.count("/one"); n > one+1 {
		t.Fatalf("gen 1 kept checking after Activate: %d more checks", n-one)
	}
	if p := c1.snap.Load(); p == nil || len(p.members) != 2 {
		t.Fatal("old generation's snapshot should stay usable for in-flight requests")
	}

	r.Activate(nil)
	r.Close()
	b.Close()
	eventually(t, 5*time.Second, "goroutines back to the baseline", func() bool {
		return runtime.NumGoroutine() <= before
	})
	if _, err := r.Build("api", upstreamOf("", b.addr())); !errors.Is(err, ErrClosed) {
		t.Fatalf("Build after Close: %v, want ErrClosed", err)
	}
}

func TestBuildErrors(t *testing.T) {
	r := newRegistry(t, Options{})
	ok := upstreamOf("", "127.0.0.1:80")
	tests := []struct {
		name string
		edit func(*configs.Upstream)
		want string
	}{
		{"unknown balance", func(u *configs.Upstream) { u.Balance = "fastest" }, "unknown balance"},
		{"no endpoints", func(u *configs.Upstream) { u.Endpoints = nil }, "no endpoints"},
		{"no port", func(u *configs.Upstream) { u.Endpoints[0].Address = "127.0.0.1" }, "endpoints[0]"},
		{"bad port", func(u *configs.Upstream) { u.Endpoints[0].Address = "127.0.0.1:99999" }, "bad port"},
		{"no host", func(u *configs.Upstream) { u.Endpoints[0].Address = ":80" }, "no host"},
		{"bad status", func(u *configs.Upstream) {
			u.HealthCheck = &configs.HealthCheck{ExpectedStatuses: []string{"2xx"}}
		}, "expected_statuses"},
		{"missing ca file", func(u *configs.Upstream) {
			u.HealthCheck = &configs.HealthCheck{}
			u.TLS = &configs.UpstreamTLS{CAFile: t.TempDir() + "/none.pem"}
		}, "ca file: open"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			cfg.Endpoints = append([]configs.Endpoint(nil), ok.Endpoints...)
			tt.edit(&cfg)
			_, err := r.Build("api", cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), `upstream "api": `) {
				t.Fatalf("err = %v, want one naming the upstream and %q", err, tt.want)
			}
		})
	}
}

func TestStatusJSON(t *testing.T) {
	r := newRegistry(t, Options{})
	cfg := upstreamOf("maglev", "127.0.0.1:80", "[::1]:80")
	cfg.Outlier = outlierFast()
	c := build(t, r, "api", cfg)
	ejectNow(c.Endpoints()[0])
	raw, err := json.Marshal(c.Status())
	if err != nil {
		t.Fatal(err)
	}
	var back ClusterStatus
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	if back.Name != "api" || back.Balance != "maglev" || back.Ready != 1 || len(back.Endpoints) != 2 {
		t.Fatalf("status = %s", raw)
	}
	if !back.Endpoints[0].Ejected || back.Endpoints[0].EjectedUntil.IsZero() || !back.Endpoints[1].EjectedUntil.IsZero() {
		t.Fatalf("ejected_until wrong: %s", raw)
	}
	if !strings.Contains(string(raw), `"address":"[::1]:80"`) {
		t.Fatalf("IPv6 address not kept in dialable form: %s", raw)
	}
}
