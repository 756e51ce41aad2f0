package l4

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the L4 collectors.
type Metrics struct {
	active        *prometheus.GaugeVec
	total         *prometheus.CounterVec
	bytes         *prometheus.CounterVec
	connectErrors *prometheus.CounterVec
	connectTime   *prometheus.HistogramVec
	Refused       *prometheus.CounterVec // by listener and reason: caps, rate, peek failures
	cache         sync.Map               // routeKey → *routeSeries
}

// NewMetrics registers the L4 collectors on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		active: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "bouncer_l4_connections_active", Help: "L4 connections open, by listener and route."},
			[]string{"listener", "route"}),
		total: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bouncer_l4_connections_total", Help: "L4 connections ended, by listener, route and close reason."},
			[]string{"listener", "route", "reason"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bouncer_l4_bytes_total", Help: "Bytes proxied, in (client to upstream) and out."},
			[]string{"listener", "route", "direction"}),
		connectErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bouncer_l4_connect_errors_total", Help: "Failed connection attempts to endpoints."},
			[]string{"route", "endpoint"}),
		connectTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "bouncer_l4_connect_seconds", Help: "Time to connect to an endpoint (with TLS and PROXY header when used).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}}, []string{"route"}),
		Refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bouncer_connections_refused_total", Help: "Connections closed before they were served, by listener and reason (caps, rates, peek failures, no route)."},
			[]string{"listener", "reason"}),
	}
	reg.MustRegister(m.active, m.total, m.bytes, m.connectErrors, m.connectTime, m.Refused)
	return m
}

// routeKey names the series of one route on one listener.
type routeKey struct{ listener, route string }

// routeSeries are one route's series on one listener, resolved once: a
// connection then touches no label hashing.
type routeSeries struct {
	active      prometheus.Gauge
	in, out     prometheus.Counter
	connectTime prometheus.Observer
	total       sync.Map // tcpproxy.Reason → prometheus.Counter
	listener    string
	route       string
	m           *Metrics
}

// series returns the cached series of (listener, route).
func (m *Metrics) series(listener, route string) *routeSeries {
	k := routeKey{listener, route}
	if v, ok := m.cache.Load(k); ok {
		return v.(*routeSeries)
	}
	rs := &routeSeries{
		active:      m.active.WithLabelValues(listener, route),
		in:          m.bytes.WithLabelValues(listener, route, "in"),
		out:         m.bytes.WithLabelValues(listener, route, "out"),
		connectTime: m.connectTime.WithLabelValues(route),
		listener:    listener, route: route, m: m,
	}
	v, _ := m.cache.LoadOrStore(k, rs)
	return v.(*routeSeries)
}

// ended counts a connection that ended for reason.
func (rs *routeSeries) ended(reason string) {
	if c, ok := rs.total.Load(reason); ok {
		c.(prometheus.Counter).Inc()
		return
	}
	c := rs.m.total.WithLabelValues(rs.listener, rs.route, reason)
	rs.total.Store(reason, c)
	c.Inc()
}
