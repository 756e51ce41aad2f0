package upstream

import (
	"slices"
	"testing"
	"time"

	"github.com/bouncer-proxy/bouncer/configs"
)

func statusOf(c *Cluster, addr string) EndpointStatus {
	for _, e := range c.Status().Endpoints {
		if e.Address == addr {
			return e
		}
	}
	return EndpointStatus{}
}

func fail5xx(e *Endpoint, n int) {
	for range n {
		e.Start()
		e.Done(Result{Status: 503})
	}
}

// TestOutlierEjectReturnBackoff ejects on 5xx in a row, sees the endpoint
// return by its timer, and the second ejection last twice as long.
func TestOutlierEjectReturnBackoff(t *testing.T) {
	rec := &recorder{}
	r := newRegistry(t, Options{OnHealthChange: rec.record})
	const base = 200 * time.Millisecond
	cfg := upstreamOf("round_robin", fakeAddrs(2)...)
	cfg.Outlier = &configs.OutlierDetection{
		Consecutive5xx: 3, BaseEjectionTime: configs.Duration(base),
		MaxEjectionTime: configs.Duration(10 * base), MaxEjectionPercent: 100,
	}
	c := build(t, r, "api", cfg)
	bad := c.Endpoints()[0]

	fail5xx(bad, 2)
	bad.Start()
	bad.Done(Result{Status: 200}) // a success resets the run
	fail5xx(bad, 2)
	if statusOf(c, bad.Address()).Ejected {
		t.Fatal("ejected without 3 failures in a row")
	}
	fail5xx(bad, 1)
	st := statusOf(c, bad.Address())
	if !st.Ejected || st.Ready || st.Ejections != 1 {
		t.Fatalf("after 3 5xx in a row: %+v", st)
	}
	for range 10 {
		if e, _ := c.Pick(0, false, nil); e == bad {
			t.Fatal("picked an ejected endpoint")
		}
	}
	eventually(t, 5*time.Second, "return after ejection", func() bool { return statusOf(c, bad.Address()).Ready })

	fail5xx(bad, 3)
	st = statusOf(c, bad.Address())
	if !st.Ejected || st.Ejections != 2 {
		t.Fatalf("second ejection: %+v", st)
	}
	if left := time.Until(st.EjectedUntil); left <= base {
		t.Fatalf("second ejection lasts %v more, want about %v", left, 2*base)
	}
	eventually(t, 5*time.Second, "return after second ejection", func() bool { return statusOf(c, bad.Address()).Ready })
	a := bad.Address()
	want := []string{"api " + a + " down", "api " + a + " up", "api " + a + " down", "api " + a + " up"}
	eventually(t, 5*time.Second, "OnHealthChange down, up, down, up", func() bool { return slices.Equal(rec.events(), want) })
}

func TestOutlierConnectFailures(t *testing.T) {
	r := newRegistry(t, Options{})
	cfg := upstreamOf("round_robin", fakeAddrs(2)...)
	cfg.Outlier = &configs.OutlierDetection{ConsecutiveConnectFailures: 2, MaxEjectionPercent: 50}
	c := build(t, r, "api", cfg)
	e := c.Endpoints()[1]
	fail5xx(e, 10) // 5xx trigger is off
	if statusOf(c, e.Address()).Ejected {
		t.Fatal("ejected on 5xx with consecutive_5xx off")
	}
	ejectNow(e)
	ejectNow(e)
	st := statusOf(c, e.Address())
	if !st.Ejected || st.Failures != 12 || st.Requests != 12 {
		t.Fatalf("after 2 connect failures: %+v", st)
	}
	if left := time.Until(st.EjectedUntil); left < defaultBaseEjection-time.Second {
		t.Fatalf("zero base_ejection_time should default to %v, ejected for %v", defaultBaseEjection, left)
	}
}

func TestMaxEjectionPercent(t *testing.T) {
	tests := []struct {
		percent, endpoints, want int
	}{
		{50, 4, 2},
		{100, 4, 4},
		{10, 4, 1}, // at least one
		{0, 3, 1},
	}
	for _, tt := range tests {
		r := newRegistry(t, Options{})
		cfg := upstreamOf("random", fakeAddrs(tt.endpoints)...)
		cfg.Outlier = outlierFast()
		cfg.Outlier.MaxEjectionPercent = tt.percent
		c := build(t, r, "api", cfg)
		for _, e := range c.Endpoints() {
			ejectNow(e)
		}
		if got := tt.endpoints - c.Status().Ready; got != tt.want {
			t.Errorf("percent %d of %d: %d ejected, want %d", tt.percent, tt.endpoints, got, tt.want)
		}
	}
}

func TestEjectionTimeDecays(t *testing.T) {
	p := newOutlierPolicy(&configs.OutlierDetection{
		Consecutive5xx: 1, BaseEjectionTime: configs.Duration(time.Second), MaxEjectionTime: configs.Duration(5 * time.Second),
	})
	e := &Endpoint{}
	now := time.Unix(1000, 0)
	for i, want := range []time.Duration{1, 2, 4, 5, 5} {
		if got := p.ejectionTime(e, now); got != want*time.Second {
			t.Fatalf("ejection %d lasts %v, want %vs", i+1, got, want)
		}
		e.returnedAt = now // returns and fails again at once
	}
	// Three base periods back in service forgive three of the five
	// ejections, so the next one counts as the third: 4s.
	now = now.Add(3 * time.Second)
	if got := p.ejectionTime(e, now); got != 4*time.Second {
		t.Fatalf("after 3s back in service: %v, want 4s", got)
	}
	now = now.Add(time.Hour)
	e.returnedAt = now.Add(-time.Hour)
	if got := p.ejectionTime(e, now); got != time.Second {
		t.Fatalf("after an hour in service: %v, want the base 1s", got)
	}
}

func TestOutlierOff(t *testing.T) {
	if newOutlierPolicy(nil) != nil || newOutlierPolicy(&configs.OutlierDetection{}) != nil {
		t.Fatal("no thresholds should mean no outlier detection")
	}
	r := newRegistry(t, Options{})
	c := build(t, r, "api", upstreamOf("", fakeAddrs(1)...))
	e := c.Endpoints()[0]
	for range 50 {
		ejectNow(e)
	}
	if _, err := c.Pick(0, false, nil); err != nil {
		t.Fatalf("without outlier detection failures must not eject: %v", err)
	}
}
