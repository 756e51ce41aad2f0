package main

import "github.com/prometheus/client_golang/prometheus"

// udpCollector reports the UDP proxies' counters at scrape time, so that
// ports come and go with reloads without metrics to unregister.
type udpCollector struct {
	ports func() map[string]*udpPort // the App's current UDP ports, by listener

	sessions, opened, dropped *prometheus.Desc
}

func newUDPCollector(ports func() map[string]*udpPort) *udpCollector {
	return &udpCollector{
		ports:    ports,
		sessions: prometheus.NewDesc("bouncer_udp_sessions", "UDP sessions (client addresses) live now, by listener.", []string{"listener"}, nil),
		opened:   prometheus.NewDesc("bouncer_udp_sessions_opened_total", "UDP sessions opened since the listener's socket was bound.", []string{"listener"}, nil),
		dropped: prometheus.NewDesc("bouncer_udp_datagrams_dropped_total", "Datagrams dropped: over max_udp_sessions (over_cap) or lost to a failed pick, dial or write (failed).",
			[]string{"listener", "reason"}, nil),
	}
}

func (c *udpCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.sessions
	ch <- c.opened
	ch <- c.dropped
}

func (c *udpCollector) Collect(ch chan<- prometheus.Metric) {
	for name, u := range c.ports() {
		st := u.proxy.Stats()
		ch <- prometheus.MustNewConstMetric(c.sessions, prometheus.GaugeValue, float64(st.Sessions), name)
		ch <- prometheus.MustNewConstMetric(c.opened, prometheus.CounterValue, float64(st.Opened), name)
		ch <- prometheus.MustNewConstMetric(c.dropped, prometheus.CounterValue, float64(st.OverCap), name, "over_cap")
		ch <- prometheus.MustNewConstMetric(c.dropped, prometheus.CounterValue, float64(st.Failed), name, "failed")
	}
}
