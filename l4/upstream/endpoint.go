package upstream

import (
	"sync/atomic"
	"time"
)

// Endpoint is one dialable backend address of an upstream. The same
// *Endpoint is kept across config generations while the upstream name and
// address stay, so its health, ejection and counters survive reloads.
//
// The data plane calls Start before using it and Done exactly once after;
// both are safe from any goroutine and do no I/O (Done takes the registry
// lock briefly only when a failure reaches an ejection threshold).
type Endpoint struct {
	addr string // ip:port, as dialed
	grp  *group // owning upstream name; fixed

	inflight   atomic.Int64
	requests   atomic.Uint64
	failures   atomic.Uint64
	consec5xx  atomic.Int64
	consecConn atomic.Int64

	// Guarded by the registry's mutex.
	healthy    bool // active health: true unless checks say otherwise
	checked    bool // at least one active check has completed
	hcPass     int  // consecutive passed checks
	hcFail     int  // consecutive failed checks
	ejected    bool
	until      time.Time // end of the ejection in force
	ejections  int       // back-off multiplier: ejections not yet decayed
	returnedAt time.Time // end of the last ejection
	timer      *time.Timer
	ready      bool // healthy && !ejected, as last published
}

func newEndpoint(addr string, g *group) *Endpoint {
	return &Endpoint{addr: addr, grp: g, healthy: true, ready: true}
}

// Address returns the ip:port to dial (after DNS resolution).
func (e *Endpoint) Address() string { return e.addr }

// InFlight returns the number of requests started and not yet done.
func (e *Endpoint) InFlight() int64 { return e.inflight.Load() }

// Start marks a request (or L4 connection) in flight on e. Every Start must
// be matched by exactly one Done.
func (e *Endpoint) Start() { e.inflight.Add(1) }

// Done ends a request started with Start and feeds its outcome to outlier
// detection. A failure that reaches a consecutive threshold ejects e (when
// the upstream's max_ejection_percent allows); any success resets both
// consecutive counters.
func (e *Endpoint) Done(res Result) {
	e.inflight.Add(-1)
	e.requests.Add(1)
	connect, server := res.failed()
	switch {
	case connect:
		e.failures.Add(1)
		e.grp.failed(e, e.consecConn.Add(1), true)
	case server:
		e.failures.Add(1)
		e.grp.failed(e, e.consec5xx.Add(1), false)
	default:
		// Load first: a store on every success would bounce the cache line
		// between cores for no change.
		if e.consec5xx.Load() != 0 {
			e.consec5xx.Store(0)
		}
		if e.consecConn.Load() != 0 {
			e.consecConn.Store(0)
		}
	}
}

// excluded reports whether e is in list. Lists are a request's tried
// endpoints, so short: a scan beats a map.
func excluded(e *Endpoint, list []*Endpoint) bool {
	for _, x := range list {
		if x == e {
			return true
		}
	}
	return false
}
