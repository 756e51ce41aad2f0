package upstream

import (
	"cmp"
	"context"
	"crypto/tls"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bouncer-proxy/bouncer/configs"
)

// Defaults for zero values that would make no sense (configs applies the
// documented defaults first; these keep a hand-built config safe).
const (
	defaultDNSRefresh = 30 * time.Second
	dnsTimeout        = 5 * time.Second
)

// Cluster is one generation of an upstream: its config, its current endpoint
// set and the picker built from the ready ones. It is made by Registry.Build;
// Pick, the Acquire methods and Status are safe from any goroutine.
type Cluster struct {
	name    string
	cfg     configs.Upstream
	reg     *Registry
	grp     *group // set by Build
	policy  policy
	hashed  bool
	health  *healthPolicy  // nil: no active checks
	outlier *outlierPolicy // nil: no ejection
	entries []entry
	refresh time.Duration
	client  *http.Client // for health checks
	tcpTLS  *tls.Config  // for tcp health checks of a TLS upstream
	limits  limits

	snap atomic.Pointer[snapshot]

	// Guarded by reg.mu.
	resolved [][]string // per entry: ip:port addresses (nil for IP entries)
	mkPicker func(ready []bool) picker
	index    map[*Endpoint]int
	run      *loops // nil while not active
}

// snapshot is what Pick reads: immutable once stored.
type snapshot struct {
	members []member
	ready   []bool
	nready  int
	picker  picker // nil when nready == 0
}

// loops is one activation's goroutines.
type loops struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func (l *loops) wait() { l.wg.Wait() }

func newCluster(r *Registry, name string, cfg configs.Upstream) (*Cluster, error) {
	p, hashed, err := policyFor(cfg.Balance)
	if err != nil {
		return nil, err
	}
	entries, err := parseEntries(cfg.Endpoints)
	if err != nil {
		return nil, err
	}
	hp, err := newHealthPolicy(cfg.HealthCheck)
	if err != nil {
		return nil, err
	}
	c := &Cluster{
		name: name, cfg: cfg, reg: r, policy: p, hashed: hashed, health: hp,
		outlier: newOutlierPolicy(cfg.Outlier), entries: entries,
		refresh: cfg.DNSRefresh.D(), limits: newLimits(cfg.Circuit, cfg.RetryBudget),
	}
	if c.refresh <= 0 {
		c.refresh = defaultDNSRefresh
	}
	if hp != nil {
		if c.client, err = r.healthClient(cfg.Protocol, cfg.TLS, entries); err != nil {
			return nil, err
		}
		if hp.tcp && cfg.TLS != nil {
			if c.tcpTLS, err = healthTLS(cfg.TLS, entries); err != nil {
				return nil, err
			}
		}
	}
	return c, nil
}

// Name returns the upstream's name.
func (c *Cluster) Name() string { return c.name }

// Hashed reports whether the cluster balances by a hash key (ring_hash,
// maglev), so callers compute the key only when it is used.
func (c *Cluster) Hashed() bool { return c.hashed }

// Config returns the config the cluster was built from.
func (c *Cluster) Config() configs.Upstream { return c.cfg }

// Pick returns a ready endpoint for one try of a request. It never blocks
// and does no I/O. hash is the request's key (see HashKey) and is used by
// ring_hash and maglev when hasHash is true; without it they pick at random.
// exclude lists endpoints this request already tried: another ready endpoint
// is returned when one exists, else exclude is ignored (a retry to the same
// endpoint beats no retry). With no ready endpoint it returns
// ErrNoHealthyEndpoint.
func (c *Cluster) Pick(hash uint64, hasHash bool, exclude []*Endpoint) (*Endpoint, error) {
	s := c.snap.Load()
	if s.nready == 0 {
		return nil, ErrNoHealthyEndpoint
	}
	if len(exclude) > 0 && s.allExcluded(exclude) {
		exclude = nil
	}
	if c.hashed && !hasHash {
		hash = rand.Uint64()
	}
	return s.picker.pick(hash, exclude), nil
}

// Endpoints returns the current endpoint set, sorted by address.
func (c *Cluster) Endpoints() []*Endpoint {
	s := c.snap.Load()
	out := make([]*Endpoint, len(s.members))
	for i, m := range s.members {
		out[i] = m.ep
	}
	return out
}

// allExcluded reports whether every ready endpoint is in exclude.
func (s *snapshot) allExcluded(exclude []*Endpoint) bool {
	for i, m := range s.members {
		if s.ready[i] && !excluded(m.ep, exclude) {
			return false
		}
	}
	return true
}

// setMembers installs a new endpoint set: the policy precomputes its tables
// and a picker is published. Caller holds reg.mu.
func (c *Cluster) setMembers(ms []member) {
	c.mkPicker = c.policy(ms)
	c.index = make(map[*Endpoint]int, len(ms))
	for i, m := range ms {
		c.index[m.ep] = i
	}
	c.publish(ms)
}

// publish stores a snapshot of ms with the endpoints' current readiness.
// Caller holds reg.mu.
func (c *Cluster) publish(ms []member) {
	s := &snapshot{members: ms, ready: make([]bool, len(ms))}
	for i, m := range ms {
		if m.ep.ready {
			s.ready[i] = true
			s.nready++
		}
	}
	if s.nready > 0 {
		s.picker = c.mkPicker(s.ready)
	}
	c.snap.Store(s)
}

// collect merges the config entries (IP ones as given, DNS ones as last
// resolved) into members sorted by address, summing the weights of entries
// that name the same address. Caller holds reg.mu.
func (c *Cluster) collect() []member {
	var ms []member
	at := map[string]int{}
	add := func(addr, host string, w int) {
		if i, ok := at[addr]; ok {
			ms[i].weight += w
			return
		}
		at[addr] = len(ms)
		ms = append(ms, member{ep: c.grp.endpoint(addr), weight: w, host: host})
	}
	for i, en := range c.entries {
		if en.ip {
			add(en.addr, en.addr, en.weight)
			continue
		}
		for _, a := range c.resolved[i] {
			add(a, en.addr, en.weight)
		}
	}
	slices.SortFunc(ms, func(a, b member) int { return cmp.Compare(a.ep.addr, b.ep.addr) })
	return ms
}

// startLoops starts the health and DNS loops unless they run. Caller holds
// reg.mu.
func (c *Cluster) startLoops(parent context.Context) {
	if c.run != nil {
		return
	}
	ctx, cancel := context.WithCancel(parent)
	l := &loops{cancel: cancel}
	if c.health != nil {
		l.wg.Go(func() { c.healthLoop(ctx) })
	}
	if c.hasNames() {
		l.wg.Go(func() { c.dnsLoop(ctx) })
	}
	c.run = l
}

// stopLoops cancels the loops and returns them so the caller can wait for
// them after unlocking (they take reg.mu). Caller holds reg.mu.
func (c *Cluster) stopLoops() *loops {
	l := c.run
	c.run = nil
	if l == nil {
		return &loops{}
	}
	l.cancel()
	return l
}
