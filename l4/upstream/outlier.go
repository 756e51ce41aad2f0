package upstream

import (
	"time"

	"github.com/bouncer-proxy/bouncer/configs"
)

// Outlier-detection defaults for zero durations.
const (
	defaultBaseEjection = 30 * time.Second
	defaultMaxEjection  = 300 * time.Second
)

// outlierPolicy is a parsed configs.OutlierDetection.
//
// An endpoint is ejected after consec5xx server failures (status >= 500 or a
// reset) or consecConn connect failures in a row; a success resets both
// counts. The n-th ejection lasts base * 2^(n-1), capped at max. n decays:
// every base period the endpoint then spends back in service forgives one
// ejection. At most maxPercent of the upstream's endpoints (at least one)
// are ejected at once; a failure past that limit ejects nothing, and the
// next failure tries again. A timer returns the endpoint when its time is
// up, so Pick never looks at a clock.
type outlierPolicy struct {
	consec5xx, consecConn int64 // 0: that trigger is off
	base, max             time.Duration
	maxPercent            int
}

// newOutlierPolicy parses o; nil means no ejection.
func newOutlierPolicy(o *configs.OutlierDetection) *outlierPolicy {
	if o == nil || (o.Consecutive5xx <= 0 && o.ConsecutiveConnectFailures <= 0) {
		return nil
	}
	p := &outlierPolicy{
		consec5xx: int64(max(o.Consecutive5xx, 0)), consecConn: int64(max(o.ConsecutiveConnectFailures, 0)),
		base: o.BaseEjectionTime.D(), max: o.MaxEjectionTime.D(), maxPercent: o.MaxEjectionPercent,
	}
	if p.base <= 0 {
		p.base = defaultBaseEjection
	}
	if p.max <= 0 {
		p.max = defaultMaxEjection
	}
	p.max = max(p.max, p.base)
	return p
}

// ejectionTime decays e's ejection count by the time since it returned,
// counts this ejection, and returns its length. Caller holds the registry
// mutex.
func (p *outlierPolicy) ejectionTime(e *Endpoint, now time.Time) time.Duration {
	if e.ejections > 0 && !e.returnedAt.IsZero() {
		e.ejections = max(0, e.ejections-int(now.Sub(e.returnedAt)/p.base))
	}
	e.ejections++
	d := p.base
	for i := 1; i < e.ejections && d < p.max; i++ {
		d *= 2
	}
	return min(d, p.max)
}

// failed is called by Endpoint.Done with the new consecutive count of a
// connect (connect=true) or server failure; it ejects e at the threshold.
func (g *group) failed(e *Endpoint, n int64, connect bool) {
	p := g.outlier.Load()
	if p == nil {
		return
	}
	limit := p.consec5xx
	if connect {
		limit = p.consecConn
	}
	if limit == 0 || n < limit {
		return
	}
	g.reg.eject(e)
}

// eject takes e out of the ready set for its back-off time, unless it is
// already out or the max_ejection_percent of the current generation forbids.
func (r *Registry) eject(e *Endpoint) {
	r.mu.Lock()
	g := e.grp
	p := g.outlier.Load()
	if r.closed || e.ejected || p == nil || g.current == nil || !g.canEject(p) {
		r.mu.Unlock()
		return
	}
	now := time.Now()
	d := p.ejectionTime(e, now)
	e.ejected = true
	e.until = now.Add(d)
	e.consec5xx.Store(0)
	e.consecConn.Store(0)
	e.timer = time.AfterFunc(d, func() { r.unEject(e) })
	r.log.Warn("upstream: endpoint ejected", "upstream", g.name, "endpoint", e.addr, "for", d, "ejections", e.ejections)
	evs := r.updateReady(e, nil)
	r.mu.Unlock()
	r.fire(evs)
}

// canEject reports whether one more endpoint of the current generation may
// be ejected. Caller holds the registry mutex.
func (g *group) canEject(p *outlierPolicy) bool {
	ms := g.current.snap.Load().members
	out := 0
	for _, m := range ms {
		if m.ep.ejected {
			out++
		}
	}
	return out < max(1, len(ms)*p.maxPercent/100)
}

// unEject returns e to service when its ejection timer fires.
func (r *Registry) unEject(e *Endpoint) {
	r.mu.Lock()
	if r.closed || !e.ejected || e.grp.endpoints[e.addr] != e {
		r.mu.Unlock()
		return // closed, or the endpoint was forgotten while the timer fired
	}
	e.ejected = false
	e.until = time.Time{}
	e.returnedAt = time.Now()
	e.timer = nil
	e.consec5xx.Store(0)
	e.consecConn.Store(0)
	evs := r.updateReady(e, nil)
	r.mu.Unlock()
	r.fire(evs)
}

// stopTimer cancels a pending return from ejection (the endpoint is being
// forgotten or the registry closed). Caller holds the registry mutex.
func (e *Endpoint) stopTimer() {
	if e.timer != nil {
		e.timer.Stop()
		e.timer = nil
	}
}
