package upstream

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bouncer-proxy/bouncer/configs"
)

// fakeResolver is injected as Options.LookupHost. It is a fake on purpose:
// the tests need answers that change on demand, which no real resolver on a
// test machine gives.
type fakeResolver struct {
	mu      sync.Mutex
	answers map[string][]string
	err     error
	calls   atomic.Int64
}

func (f *fakeResolver) lookup(_ context.Context, host string) ([]string, error) {
	f.calls.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	if a, ok := f.answers[host]; ok {
		return slices.Clone(a), nil
	}
	return nil, errors.New("no such host")
}

func (f *fakeResolver) set(host string, ips ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.answers == nil {
		f.answers = map[string][]string{}
	}
	f.answers[host] = ips
	f.err = nil
}

func (f *fakeResolver) fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

func addresses(c *Cluster) []string {
	var out []string
	for _, e := range c.Endpoints() {
		out = append(out, e.Address())
	}
	return out
}

func TestDNSReResolution(t *testing.T) {
	dns := &fakeResolver{}
	dns.set("api.internal", "10.0.0.2", "10.0.0.1", "10.0.0.1")
	r := newRegistry(t, Options{LookupHost: dns.lookup})
	cfg := configs.Upstream{
		Endpoints:  []configs.Endpoint{{Address: "api.internal:8080", Weight: 2}},
		DNSRefresh: configs.Duration(5 * time.Millisecond),
	}
	c := build(t, r, "api", cfg)
	if got, want := addresses(c), []string{"10.0.0.1:8080", "10.0.0.2:8080"}; !slices.Equal(got, want) {
		t.Fatalf("after Build: %v, want %v", got, want)
	}
	kept := c.Endpoints()[1]
	kept.Start() // state that must survive the change
	if st := c.Status(); st.Endpoints[0].Weight != 2 || st.Endpoints[0].Host != "api.internal:8080" {
		t.Fatalf("resolved endpoint lost its entry's weight or host: %+v", st.Endpoints[0])
	}
	r.Activate(map[string]*Cluster{"api": c})

	dns.set("api.internal", "10.0.0.2", "10.0.0.3")
	want := []string{"10.0.0.2:8080", "10.0.0.3:8080"}
	eventually(t, 5*time.Second, "new answer applied", func() bool { return slices.Equal(addresses(c), want) })
	if c.Endpoints()[0] != kept || kept.InFlight() != 1 {
		t.Fatal("an address that stayed lost its endpoint state")
	}
	for range 10 {
		if e, _ := c.Pick(0, false, nil); e.Address() == "10.0.0.1:8080" {
			t.Fatal("picked an address DNS no longer returns")
		}
	}

	snap := c.snap.Load()
	n := dns.calls.Load()
	eventually(t, 5*time.Second, "unchanged refreshes", func() bool { return dns.calls.Load() >= n+3 })
	dns.fail(errors.New("server misbehaving"))
	n = dns.calls.Load()
	eventually(t, 5*time.Second, "failed refreshes", func() bool { return dns.calls.Load() >= n+3 })
	if got := addresses(c); !slices.Equal(got, want) {
		t.Fatalf("a failed refresh changed the set: %v", got)
	}
	if c.snap.Load() != snap {
		t.Fatal("unchanged or failed answers rebuilt the picker")
	}
}

// TestDNSBuildFailureKeepsLastAnswer: a reload while DNS is down keeps the
// addresses the current generation resolved.
func TestDNSBuildFailureKeepsLastAnswer(t *testing.T) {
	dns := &fakeResolver{}
	dns.set("db.internal", "10.1.0.1")
	r := newRegistry(t, Options{LookupHost: dns.lookup})
	cfg := upstreamOf("", "db.internal:5432", "10.1.0.9:5432")
	c1 := build(t, r, "db", cfg)
	r.Activate(map[string]*Cluster{"db": c1})
	dns.fail(errors.New("timeout"))
	c2 := build(t, r, "db", cfg)
	if got, want := addresses(c2), []string{"10.1.0.1:5432", "10.1.0.9:5432"}; !slices.Equal(got, want) {
		t.Fatalf("after Build with DNS down: %v, want %v", got, want)
	}
	fresh := build(t, r, "other", cfg)
	if got := addresses(fresh); !slices.Equal(got, []string{"10.1.0.9:5432"}) {
		t.Fatalf("a new upstream with DNS down should have only its IP entries: %v", got)
	}
}

func TestDuplicateAddressesSumWeights(t *testing.T) {
	dns := &fakeResolver{}
	dns.set("a.internal", "10.2.0.1")
	r := newRegistry(t, Options{LookupHost: dns.lookup})
	cfg := configs.Upstream{Endpoints: []configs.Endpoint{
		{Address: "a.internal:80", Weight: 2}, {Address: "10.2.0.1:80", Weight: 3}, {Address: "10.2.0.2:80"},
	}}
	c := build(t, r, "api", cfg)
	st := c.Status()
	if len(st.Endpoints) != 2 || st.Endpoints[0].Weight != 5 || st.Endpoints[1].Weight != 1 {
		t.Fatalf("want 10.2.0.1 weight 5 and 10.2.0.2 weight 1 (zero weight is 1): %+v", st.Endpoints)
	}
}
