package upstream

import "time"

// ClusterStatus is a snapshot of a cluster for the admin API.
type ClusterStatus struct {
	Name        string           `json:"name"`
	Balance     string           `json:"balance"`
	Ready       int              `json:"ready"`
	Requests    int64            `json:"requests_in_flight"`
	Connections int64            `json:"connections_open"`
	Pending     int64            `json:"requests_pending"`
	Retries     int64            `json:"retries_in_flight"`
	Endpoints   []EndpointStatus `json:"endpoints"`
}

// EndpointStatus is one endpoint of a ClusterStatus.
type EndpointStatus struct {
	Address                    string    `json:"address"`
	Host                       string    `json:"host"` // the config entry it comes from
	Weight                     int       `json:"weight"`
	Healthy                    bool      `json:"healthy"` // active health checks
	Ejected                    bool      `json:"ejected"` // outlier detection
	EjectedUntil               time.Time `json:"ejected_until,omitzero"`
	Ejections                  int       `json:"ejections"` // back-off multiplier in force
	Ready                      bool      `json:"ready"`     // healthy and not ejected
	InFlight                   int64     `json:"in_flight"`
	Consecutive5xx             int64     `json:"consecutive_5xx"`
	ConsecutiveConnectFailures int64     `json:"consecutive_connect_failures"`
	Requests                   uint64    `json:"requests"`
	Failures                   uint64    `json:"failures"`
}

// Status returns a consistent snapshot of the cluster and its endpoints,
// sorted by address. It takes the registry lock briefly; not for the hot path.
func (c *Cluster) Status() ClusterStatus {
	c.reg.mu.Lock()
	defer c.reg.mu.Unlock()
	s := c.snap.Load()
	cs := &c.grp.counters
	st := ClusterStatus{
		Name: c.name, Balance: c.cfg.Balance, Ready: s.nready,
		Requests: cs.reqs.Load(), Connections: cs.conns.Load(), Pending: cs.pend.Load(), Retries: cs.retries.Load(),
		Endpoints: make([]EndpointStatus, len(s.members)),
	}
	if st.Balance == "" {
		st.Balance = "round_robin"
	}
	for i, m := range s.members {
		e := m.ep
		es := EndpointStatus{
			Address: e.addr, Host: m.host, Weight: m.weight, Healthy: e.healthy, Ejected: e.ejected,
			Ejections: e.ejections, Ready: s.ready[i], InFlight: e.inflight.Load(),
			Consecutive5xx: e.consec5xx.Load(), ConsecutiveConnectFailures: e.consecConn.Load(),
			Requests: e.requests.Load(), Failures: e.failures.Load(),
		}
		if e.ejected {
			es.EjectedUntil = e.until
		}
		st.Endpoints[i] = es
	}
	return st
}
