package upstream

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/bouncer-proxy/bouncer/configs"
)

// Registry keeps endpoint state across config reloads, keyed by upstream
// name and endpoint address, and runs the control-plane loops (health checks,
// DNS refresh, ejection timers) of the active generation. All methods are
// safe for concurrent use.
type Registry struct {
	log      *slog.Logger
	lookup   func(ctx context.Context, host string) ([]string, error)
	client   *http.Client // nil: clusters build their own health client
	onChange func(upstream, addr string, healthy bool)
	ctx      context.Context // parent of every loop; cancelled by Close
	cancel   context.CancelFunc

	mu     sync.Mutex // guards everything below and the fields marked so elsewhere
	groups map[string]*group
	active map[*Cluster]struct{}
	closed bool
}

// group is the state of one upstream name that outlives generations: its
// endpoints, the clusters built from it, and its circuit counters.
type group struct {
	name      string
	reg       *Registry
	endpoints map[string]*Endpoint  // by address; guarded by reg.mu
	clusters  map[*Cluster]struct{} // notified of readiness; guarded by reg.mu
	current   *Cluster              // governs ejection; guarded by reg.mu
	outlier   atomic.Pointer[outlierPolicy]
	counters  circuit
}

// event is a readiness change to report through Options.OnHealthChange.
type event struct {
	upstream, addr string
	ready          bool
}

// NewRegistry returns an empty registry. It starts no goroutine.
func NewRegistry(opts Options) *Registry {
	r := &Registry{
		log:      opts.Logger,
		lookup:   opts.LookupHost,
		client:   opts.HealthClient,
		onChange: opts.OnHealthChange,
		groups:   map[string]*group{},
		active:   map[*Cluster]struct{}{},
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.lookup == nil {
		r.lookup = net.DefaultResolver.LookupHost
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	return r
}

// Build makes a Cluster for cfg, reusing the Endpoint (health, ejection,
// counters) of every address this upstream name already has. DNS names are
// resolved here (blocking, bounded by a timeout); a name that fails keeps the
// addresses the current generation has for it, or contributes none until a
// refresh succeeds. Build starts no goroutine and changes nothing that the
// current generation serves from, so a failed reload can drop its clusters.
func (r *Registry) Build(name string, cfg configs.Upstream) (*Cluster, error) {
	c, err := newCluster(r, name, cfg)
	if err != nil {
		return nil, fmt.Errorf("upstream %q: %w", name, err)
	}
	res, errs := c.resolve(r.ctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, ErrClosed
	}
	g := r.group(name)
	c.grp = g
	c.resolved = res
	for i, err := range errs {
		if err != nil {
			c.resolved[i] = g.lastResolved(c.entries[i].addr)
			r.log.Warn("upstream: dns lookup failed", "upstream", name, "endpoint", c.entries[i].addr, "error", err)
		}
	}
	g.clusters[c] = struct{}{}
	if g.current == nil {
		g.current = c
		g.outlier.Store(c.outlier)
	}
	c.setMembers(c.collect())
	return c, nil
}

// Activate is called after the generation holding clusters has been swapped
// in. It starts the health and DNS loops of these clusters, stops those of
// every other cluster (waiting for them to exit), makes these clusters'
// settings govern ejection, and forgets endpoints and upstreams no longer
// referenced. Calling it again with the same set changes nothing.
func (r *Registry) Activate(clusters map[string]*Cluster) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	next := make(map[*Cluster]struct{}, len(clusters))
	for _, c := range clusters {
		if c != nil && c.reg == r {
			next[c] = struct{}{}
		}
	}
	var stopped []*loops
	for c := range r.active {
		if _, ok := next[c]; !ok {
			stopped = append(stopped, c.stopLoops())
		}
	}
	for _, g := range r.groups {
		clear(g.clusters)
	}
	var evs []event
	for c := range next {
		g := c.grp
		g.clusters[c] = struct{}{}
		g.current = c
		g.outlier.Store(c.outlier)
		if c.health == nil {
			evs = append(evs, r.clearHealth(c)...)
		}
		c.startLoops(r.ctx)
	}
	r.active = next
	r.prune()
	r.mu.Unlock()
	for _, l := range stopped {
		l.wait()
	}
	r.fire(evs)
}

// Close stops every loop and ejection timer and waits for the loops to exit.
// Clusters keep answering Pick from their last snapshot.
func (r *Registry) Close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	r.cancel()
	var stopped []*loops
	for c := range r.active {
		stopped = append(stopped, c.stopLoops())
	}
	for _, g := range r.groups {
		for _, e := range g.endpoints {
			e.stopTimer()
		}
	}
	r.active = nil
	r.mu.Unlock()
	for _, l := range stopped {
		l.wait()
	}
}

// group returns the state of name, creating it. Caller holds r.mu.
func (r *Registry) group(name string) *group {
	g := r.groups[name]
	if g == nil {
		g = &group{name: name, reg: r, endpoints: map[string]*Endpoint{}, clusters: map[*Cluster]struct{}{}}
		g.counters.init()
		r.groups[name] = g
	}
	return g
}

// prune drops upstreams with no attached cluster and endpoints no attached
// cluster references. Caller holds r.mu.
func (r *Registry) prune() {
	for name, g := range r.groups {
		if len(g.clusters) == 0 {
			for _, e := range g.endpoints {
				e.stopTimer()
			}
			clear(g.endpoints)
			delete(r.groups, name)
			continue
		}
		g.prune()
	}
}

// prune drops endpoints that no attached cluster references. Caller holds
// reg.mu.
func (g *group) prune() {
	for addr, e := range g.endpoints {
		used := false
		for c := range g.clusters {
			if _, ok := c.index[e]; ok {
				used = true
				break
			}
		}
		if !used {
			e.stopTimer()
			delete(g.endpoints, addr)
		}
	}
}

// endpoint returns the endpoint of addr, creating a healthy one. Caller
// holds reg.mu.
func (g *group) endpoint(addr string) *Endpoint {
	e := g.endpoints[addr]
	if e == nil {
		e = newEndpoint(addr, g)
		g.endpoints[addr] = e
	}
	return e
}

// lastResolved returns what the current generation resolved the config
// entry addr to, or nil. Caller holds reg.mu.
func (g *group) lastResolved(addr string) []string {
	if g.current == nil {
		return nil
	}
	for i, en := range g.current.entries {
		if en.addr == addr {
			return g.current.resolved[i]
		}
	}
	return nil
}

// updateReady republishes e's readiness (healthy and not ejected) to every
// attached cluster holding it. Caller holds r.mu; it fires the returned
// events after unlocking.
func (r *Registry) updateReady(e *Endpoint, evs []event) []event {
	ready := e.healthy && !e.ejected
	if ready == e.ready {
		return evs
	}
	e.ready = ready
	for c := range e.grp.clusters {
		if _, ok := c.index[e]; ok {
			c.publish(c.snap.Load().members)
		}
	}
	return append(evs, event{upstream: e.grp.name, addr: e.addr, ready: ready})
}

// fire reports readiness changes. Called with no lock held.
func (r *Registry) fire(evs []event) {
	for _, ev := range evs {
		r.log.Info("upstream: endpoint readiness changed", "upstream", ev.upstream, "endpoint", ev.addr, "ready", ev.ready)
		if r.onChange != nil {
			r.onChange(ev.upstream, ev.addr, ev.ready)
		}
	}
}
