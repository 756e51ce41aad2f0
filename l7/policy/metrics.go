package policy

import "github.com/prometheus/client_golang/prometheus"

// Metrics count what policies decide. A nil *Metrics counts nothing.
type Metrics struct {
	authFailures *prometheus.CounterVec // by method kind
	rateLimited  *prometheus.CounterVec // by policy
	redisErrors  *prometheus.CounterVec // by policy
	cacheEvents  *prometheus.CounterVec // by policy and event
	authzDown    *prometheus.CounterVec // by policy
}

// NewMetrics registers the policy collectors on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bouncer_auth_failures_total",
			Help: "Requests refused by authentication, by method (none: no credentials at all)."}, []string{"method"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bouncer_rate_limited_total",
			Help: "Requests refused with 429 by a rate_limit policy."}, []string{"policy"}),
		redisErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bouncer_rate_limit_store_errors_total",
			Help: "Failed calls to the shared rate-limit store (Redis); the policy's fail_open decides the request."}, []string{"policy"}),
		cacheEvents: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bouncer_cache_events_total",
			Help: "Cache outcomes by policy: hit, miss, stale, revalidated, bypass, stored, coalesced, store_error, invalidate."}, []string{"policy", "event"}),
		authzDown: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bouncer_ext_authz_unavailable_total",
			Help: "Requests an ext_authz service could not decide (let through with fail_open, else refused with 503)."}, []string{"policy"}),
	}
	reg.MustRegister(m.authFailures, m.rateLimited, m.redisErrors, m.cacheEvents, m.authzDown)
	return m
}

func (m *Metrics) authFailed(method string) {
	if m != nil {
		m.authFailures.WithLabelValues(method).Inc()
	}
}

func (m *Metrics) limited(policy string) prometheus.Counter {
	if m == nil {
		return nil
	}
	return m.rateLimited.WithLabelValues(policy)
}

func (m *Metrics) storeError(policy string) func(error) {
	if m == nil {
		return nil
	}
	c := m.redisErrors.WithLabelValues(policy)
	return func(error) { c.Inc() }
}

func (m *Metrics) cacheEvent(policy string) func(string) {
	if m == nil {
		return nil
	}
	return func(ev string) { m.cacheEvents.WithLabelValues(policy, ev).Inc() }
}

func (m *Metrics) authzUnavailable(policy string) func(error) {
	if m == nil {
		return nil
	}
	c := m.authzDown.WithLabelValues(policy)
	return func(error) { c.Inc() }
}
