package configs

import (
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"
)

func (v *validator) upstreams() {
	for name, u := range v.c.Upstreams {
		p := "upstreams." + name
		v.grpcSource(p, u)
		if len(u.Endpoints) == 0 {
			v.sink.addf(p+".endpoints", "at least one endpoint is needed")
		}
		for i, e := range u.Endpoints {
			ep := fmt.Sprintf("%s.endpoints[%d]", p, i)
			if v.hostPort(ep, e.Address) {
				if _, port, _ := net.SplitHostPort(e.Address); port == "0" {
					v.sink.addf(ep, "endpoint port must not be 0")
				}
			}
			if e.Weight < 1 || e.Weight > 1000 {
				v.sink.addf(ep+".weight", "weight %d is out of range 1..1000", e.Weight)
			}
		}
		if u.Protocol == "h2" && u.TLS == nil {
			v.sink.addf(p+".protocol", "h2 needs tls (use h2c for HTTP/2 without TLS)")
		}
		if u.Protocol == "h2c" && u.TLS != nil {
			v.sink.addf(p+".tls", "h2c is HTTP/2 without TLS; use protocol h2 with tls")
		}
		if t := u.TLS; t != nil && t.CAFile != "" {
			if err := pemCerts(t.CAFile); err != nil {
				v.sink.addf(p+".tls.ca_file", "%v", err)
			}
		}
		if t := u.TLS; t != nil && t.InsecureSkipVerify && t.CAFile != "" {
			v.sink.addf(p+".tls.insecure_skip_verify", "cannot be combined with ca_file: verify with the CA, or not at all")
		}
		if t := u.TLS; t != nil && (t.CertFile != "" || t.KeyFile != "") {
			if t.CertFile == "" || t.KeyFile == "" {
				v.sink.addf(p+".tls", "cert_file and key_file go together")
			} else if _, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile); err != nil {
				v.sink.addf(p+".tls.cert_file", "cannot load certificate: %v", err)
			}
		}
		v.hashOn(p, u)
		v.health(p+".health_check", u.HealthCheck)
		v.outlier(p+".outlier_detection", u.Outlier)
		v.nonNegative(p+".circuit_breaker.max_connections", u.Circuit.MaxConnections)
		v.nonNegative(p+".circuit_breaker.max_pending", u.Circuit.MaxPending)
		v.nonNegative(p+".circuit_breaker.max_requests", u.Circuit.MaxRequests)
		v.nonNegative(p+".max_idle_per_endpoint", u.IdleConns)
		if u.RetryBudget.Percent < 0 || u.RetryBudget.Percent > 100 {
			v.sink.addf(p+".retry_budget.percent", "must be between 0 and 100")
		}
		v.nonNegative(p+".retry_budget.min_retry_concurrency", u.RetryBudget.MinConcurrency)
		if u.ConnectTimeout <= 0 {
			v.sink.addf(p+".connect_timeout", "must be more than 0")
		}
	}
}

func (v *validator) hashOn(p string, u Upstream) {
	if u.HashOn == nil {
		return
	}
	n := 0
	if u.HashOn.Header != "" {
		n++
	}
	if u.HashOn.Cookie != "" {
		n++
	}
	if u.HashOn.ClientIP {
		n++
	}
	if u.HashOn.SNI {
		n++
	}
	if n != 1 {
		v.sink.addf(p+".hash_on", "set exactly one of header, cookie, client_ip, sni")
	}
	if h := u.HashOn.Header; h != "" && !httpguts.ValidHeaderFieldName(h) {
		v.sink.addf(p+".hash_on.header", "%q is not a valid header name", h)
	}
	if c := u.HashOn.Cookie; c != "" && !validToken(c) {
		v.sink.addf(p+".hash_on.cookie", "%q is not a valid cookie name", c)
	}
	if u.Balance != "ring_hash" && u.Balance != "maglev" {
		v.sink.addf(p+".hash_on", "hash_on is used only with balance ring_hash or maglev, not %q", u.Balance)
	}
}

func (v *validator) health(p string, h *HealthCheck) {
	if h == nil {
		return
	}
	if !strings.HasPrefix(h.Path, "/") {
		v.sink.addf(p+".path", "must start with /")
	}
	if h.Type != "tcp" && (h.Send != "" || h.Expect != "") {
		v.sink.addf(p+".type", "send and expect are for type tcp checks")
	}
	if h.Interval <= 0 {
		v.sink.addf(p+".interval", "must be more than 0")
	}
	if h.Timeout <= 0 {
		v.sink.addf(p+".timeout", "must be more than 0")
	}
	if h.HealthyThreshold < 1 {
		v.sink.addf(p+".healthy_threshold", "must be at least 1")
	}
	if h.UnhealthyThreshold < 1 {
		v.sink.addf(p+".unhealthy_threshold", "must be at least 1")
	}
	for i, s := range h.ExpectedStatuses {
		if _, _, err := ParseStatusRange(s); err != nil {
			v.sink.addf(fmt.Sprintf("%s.expected_statuses[%d]", p, i), "%v", err)
		}
	}
}

// ParseStatusRange reads "200" or "200-299".
func ParseStatusRange(s string) (lo, hi int, err error) {
	a, b, isRange := strings.Cut(s, "-")
	lo, err1 := strconv.Atoi(strings.TrimSpace(a))
	hi = lo
	var err2 error
	if isRange {
		hi, err2 = strconv.Atoi(strings.TrimSpace(b))
	}
	if err1 != nil || err2 != nil || lo < 100 || hi > 599 || lo > hi {
		return 0, 0, fmt.Errorf("%q is not a status (200) or range (200-299) within 100..599", s)
	}
	return lo, hi, nil
}

func (v *validator) outlier(p string, o *OutlierDetection) {
	if o == nil {
		return
	}
	v.nonNegative(p+".consecutive_5xx", o.Consecutive5xx)
	v.nonNegative(p+".consecutive_connect_failures", o.ConsecutiveConnectFailures)
	if o.BaseEjectionTime <= 0 {
		v.sink.addf(p+".base_ejection_time", "must be more than 0")
	}
	if o.MaxEjectionTime < o.BaseEjectionTime {
		v.sink.addf(p+".max_ejection_time", "must be at least base_ejection_time")
	}
	if o.MaxEjectionPercent < 0 || o.MaxEjectionPercent > 100 {
		v.sink.addf(p+".max_ejection_percent", "must be between 0 and 100")
	}
}

func (v *validator) nonNegative(p string, n int) {
	if n < 0 {
		v.sink.addf(p, "must not be negative")
	}
}
