package acme

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the Manager's Prometheus collectors.
type metrics struct {
	expiry *prometheus.GaugeVec   // bouncer_tls_certificate_expiry_timestamp_seconds{name}
	events *prometheus.CounterVec // bouncer_tls_certificate_events_total{event}
}

// Event label values of bouncer_tls_certificate_events_total.
const (
	eventObtained = "obtained"
	eventRenewed  = "renewed"
	eventFailed   = "failed"
)

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		expiry: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "bouncer_tls_certificate_expiry_timestamp_seconds",
			Help: "When the managed certificate for a name expires (Unix seconds).",
		}, []string{"name"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bouncer_tls_certificate_events_total",
			Help: "Automatic certificate events: obtained, renewed, failed.",
		}, []string{"event"}),
	}
	for _, e := range []string{eventObtained, eventRenewed, eventFailed} {
		m.events.WithLabelValues(e) // export zeroes from the start
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.expiry, m.events} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("acme: register metrics: %w", err)
		}
	}
	return m, nil
}

// onEvent is certmagic's OnEvent hook for every generation: it counts
// and logs outcomes and keeps the expiry gauge current. certmagic calls
// it synchronously from its own goroutines; it only reads storage.
func (m *Manager) onEvent(ctx context.Context, event string, data map[string]any) error {
	name, _ := data["identifier"].(string)
	switch event {
	case "cert_obtained":
		kind := eventObtained
		if renewal, _ := data["renewal"].(bool); renewal {
			kind = eventRenewed
		}
		m.metrics.events.WithLabelValues(kind).Inc()
		path, _ := data["certificate_path"].(string)
		notAfter, err := m.loadExpiry(ctx, path)
		if err != nil {
			m.log.Warn("acme: certificate "+kind+" but unreadable", "name", name, "error", err)
			return nil
		}
		m.metrics.expiry.WithLabelValues(name).Set(float64(notAfter.Unix()))
		m.log.Info("acme: certificate "+kind, "name", name, "not_after", notAfter)
	case "cert_failed":
		if err, _ := data["error"].(error); errors.Is(err, context.Canceled) {
			return nil // Close or Update cut an attempt short: not a CA failure
		}
		m.metrics.events.WithLabelValues(eventFailed).Inc()
		m.log.Error("acme: certificate could not be obtained", "name", name,
			"renewal", data["renewal"], "error", data["error"])
	case "cached_managed_cert":
		m.gaugeFromCache(data["sans"])
	}
	return nil
}

// loadExpiry reads the leaf of the PEM chain at key in the current storage.
func (m *Manager) loadExpiry(ctx context.Context, key string) (time.Time, error) {
	b, err := m.cur.Load().storage.Load(ctx, key)
	if err != nil {
		return time.Time{}, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return time.Time{}, errors.New("no PEM block")
	}
	leaf, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return time.Time{}, err
	}
	return leaf.NotAfter, nil
}

// gaugeFromCache sets the gauge for certificates loaded from storage
// (at start, or when another instance renewed them).
func (m *Manager) gaugeFromCache(sans any) {
	names, _ := sans.([]string)
	for _, n := range names {
		var latest time.Time
		for _, c := range m.cache.AllMatchingCertificates(n) {
			if c.Leaf != nil && c.Leaf.NotAfter.After(latest) {
				latest = c.Leaf.NotAfter
			}
		}
		if !latest.IsZero() {
			m.metrics.expiry.WithLabelValues(n).Set(float64(latest.Unix()))
		}
	}
}

// forget drops the gauge of a name no longer managed.
func (m *metrics) forget(name string) { m.expiry.DeleteLabelValues(name) }
