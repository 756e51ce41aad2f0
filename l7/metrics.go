package l7

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the gateway's Prometheus collectors. A nil *Metrics records
// nothing, so components can be used without it in tests.
type Metrics struct {
	Registry         *prometheus.Registry
	requests         *prometheus.CounterVec
	latency          *prometheus.HistogramVec
	upstreamRequests *prometheus.CounterVec
	upstreamLatency  *prometheus.HistogramVec
	EndpointHealthy  *prometheus.GaugeVec
	ActiveConns      *prometheus.GaugeVec
	Reloads          *prometheus.CounterVec
	ConfigGeneration prometheus.Gauge
}

// NewMetrics registers the collectors on a new registry (with the Go and
// process collectors).
func NewMetrics() *Metrics {
	buckets := []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bouncer_http_requests_total", Help: "HTTP requests handled, by listener, route, method and status class.",
		}, []string{"listener", "route", "method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "bouncer_http_request_duration_seconds", Help: "Time from request to the end of the response, by route.", Buckets: buckets,
		}, []string{"route"}),
		upstreamRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bouncer_upstream_requests_total", Help: "Tries sent to upstreams, by upstream and status class (error: no response).",
		}, []string{"upstream", "code"}),
		upstreamLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "bouncer_upstream_request_duration_seconds", Help: "Time of one try, to the end of the response body, by upstream.", Buckets: buckets,
		}, []string{"upstream"}),
		EndpointHealthy: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "bouncer_upstream_endpoint_healthy", Help: "1 when the endpoint is healthy and not ejected.",
		}, []string{"upstream", "endpoint"}),
		ActiveConns: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "bouncer_listener_active_connections", Help: "Client connections open, by listener.",
		}, []string{"listener"}),
		Reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bouncer_config_reloads_total", Help: "Config reloads, by result (success or failure).",
		}, []string{"result"}),
		ConfigGeneration: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bouncer_config_generation", Help: "Generation number of the config being served.",
		}),
	}
	m.Registry.MustRegister(m.requests, m.latency, m.upstreamRequests, m.upstreamLatency,
		m.EndpointHealthy, m.ActiveConns, m.Reloads, m.ConfigGeneration,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}

// ObserveRequest records one finished client request.
func (m *Metrics) ObserveRequest(listener, route, method string, status int, d time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(listener, route, methodLabel(method), statusClass(status)).Inc()
	m.latency.WithLabelValues(route).Observe(d.Seconds())
}

// ObserveUpstream records one try; status 0 means no response.
func (m *Metrics) ObserveUpstream(upstream string, status int, d time.Duration) {
	if m == nil {
		return
	}
	m.upstreamRequests.WithLabelValues(upstream, statusClass(status)).Inc()
	m.upstreamLatency.WithLabelValues(upstream).Observe(d.Seconds())
}

func statusClass(s int) string {
	if s < 100 || s > 599 {
		return "error"
	}
	return statusClasses[s/100-1]
}

var statusClasses = [...]string{"1xx", "2xx", "3xx", "4xx", "5xx"}

// methodLabel bounds the label's values: unknown methods share one.
func methodLabel(m string) string {
	switch m {
	case "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE":
		return m
	}
	return "OTHER"
}
