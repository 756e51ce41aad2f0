package upstream

import (
	"sync/atomic"

	"github.com/bouncer-proxy/bouncer/configs"
)

// Retry-budget defaults, used when both settings are zero (an all-zero
// budget would forbid every retry, which the route's attempts already say
// more plainly).
const (
	defaultRetryPercent = 20
	defaultRetryMin     = 3
)

// limits are one generation's circuit-breaker and retry-budget settings;
// 0 means unlimited for the three maxima.
type limits struct {
	maxReq, maxConn, maxPend int64
	retryPercent, retryMin   int64
}

// circuit holds the in-flight counts of an upstream. It lives in the group,
// so requests of the old generation still count after a reload.
type circuit struct {
	reqs, conns, pend, retries         atomic.Int64
	relReq, relConn, relPend, relRetry func()
}

func newLimits(cb configs.CircuitBreaker, rb configs.RetryBudget) limits {
	l := limits{
		maxReq: int64(max(cb.MaxRequests, 0)), maxConn: int64(max(cb.MaxConnections, 0)),
		maxPend:      int64(max(cb.MaxPending, 0)),
		retryPercent: int64(max(rb.Percent, 0)), retryMin: int64(max(rb.MinConcurrency, 0)),
	}
	if l.retryPercent == 0 && l.retryMin == 0 {
		l.retryPercent, l.retryMin = defaultRetryPercent, defaultRetryMin
	}
	return l
}

// init makes the release functions once, so an Acquire allocates nothing.
func (c *circuit) init() {
	c.relReq = func() { c.reqs.Add(-1) }
	c.relConn = func() { c.conns.Add(-1) }
	c.relPend = func() { c.pend.Add(-1) }
	c.relRetry = func() { c.retries.Add(-1) }
}

func noop() {}

// acquire adds one to n unless that passes limit (0: none).
func acquire(n *atomic.Int64, limit int64, release func()) (func(), bool) {
	if v := n.Add(1); limit > 0 && v > limit {
		n.Add(-1)
		return noop, false
	}
	return release, true
}

// AcquireRequest counts a request in flight against max_requests. Call it
// for every request, limited or not: the retry budget is a share of this
// count. When ok, call release exactly once when the request ends; when not,
// shed the request (503) and do not call it (it is a no-op anyway).
func (c *Cluster) AcquireRequest() (release func(), ok bool) {
	return acquire(&c.grp.counters.reqs, c.limits.maxReq, c.grp.counters.relReq)
}

// AcquireConn counts an open upstream connection against max_connections;
// the dialer calls it before dialing and release when the connection closes.
func (c *Cluster) AcquireConn() (release func(), ok bool) {
	return acquire(&c.grp.counters.conns, c.limits.maxConn, c.grp.counters.relConn)
}

// AcquirePending counts a request waiting for a connection against
// max_pending; release it once the request has a connection or gives up.
func (c *Cluster) AcquirePending() (release func(), ok bool) {
	return acquire(&c.grp.counters.pend, c.limits.maxPend, c.grp.counters.relPend)
}

// AcquireRetry admits one retry if the retries in flight stay within the
// budget: max(min_retry_concurrency, percent of requests in flight). Release
// it when the retry ends. A refused retry should return the last failure.
func (c *Cluster) AcquireRetry() (release func(), ok bool) {
	cs := &c.grp.counters
	limit := max(c.limits.retryMin, cs.reqs.Load()*c.limits.retryPercent/100)
	if v := cs.retries.Add(1); v > limit {
		cs.retries.Add(-1)
		return noop, false
	}
	return cs.relRetry, true
}
