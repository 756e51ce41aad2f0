package configs

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// Validate checks what the decoder cannot: references between sections,
// uniqueness, value ranges and combinations. It reports every problem at
// once, each with file, line and key path. Route conflicts are found when
// the route table is compiled (see l7/route), which `bouncer validate` does too.
func (c *Config) Validate() error {
	v := &validator{c: c, sink: errorSink{file: c.File, pos: c.pos}}
	v.admin()
	v.server()
	v.listeners()
	v.upstreams()
	v.routes()
	if c.Sample.Enabled {
		v.hostPort("sample.address", c.Sample.Address)
	}
	return v.sink.err()
}

type validator struct {
	c    *Config
	sink errorSink
}

func (v *validator) admin() {
	if a := v.c.Admin.Address; a != "off" {
		v.hostPort("admin.address", a)
	}
}

func (v *validator) server() {
	for i, p := range v.c.Server.TrustedProxies {
		if _, err := ParsePrefix(p); err != nil {
			v.sink.addf(fmt.Sprintf("server.trusted_proxies[%d]", i), "%v", err)
		}
	}
	if h := v.c.Server.RequestIDHeader; !httpguts.ValidHeaderFieldName(h) {
		v.sink.addf("server.request_id_header", "%q is not a valid header name", h)
	}
	if v.c.Server.MaxBodyBytes < 0 {
		v.sink.addf("server.max_request_body_bytes", "must not be negative")
	}
}

// ParsePrefix reads a CIDR ("10.0.0.0/8") or a single IP.
func ParsePrefix(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is neither a CIDR nor an IP address", s)
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

func (v *validator) listeners() {
	if len(v.c.Listeners) == 0 {
		v.sink.addf("listeners", "at least one listener is needed")
	}
	names := map[string]string{}
	addrs := map[string]string{}
	for i, l := range v.c.Listeners {
		p := fmt.Sprintf("listeners[%d]", i)
		if l.Name != "" {
			if prev, dup := names[l.Name]; dup {
				v.sink.addf(p+".name", "duplicate listener name %q (first at %s)", l.Name, prev)
			} else {
				names[l.Name] = p
			}
		}
		if v.hostPort(p+".address", l.Address) {
			if key := normAddr(l.Address); key != "" {
				if prev, dup := addrs[key]; dup {
					v.sink.addf(p+".address", "duplicate listener address %q (also %s)", l.Address, prev)
				} else {
					addrs[key] = p
				}
			}
		}
		v.listenerProtocols(p, l)
		v.limits(p+".limits", l.Limits)
	}
}

func (v *validator) listenerProtocols(p string, l Listener) {
	if len(l.Protocols) == 0 {
		v.sink.addf(p+".protocols", "at least one protocol is needed")
	}
	seen := map[string]bool{}
	for i, proto := range l.Protocols {
		pp := fmt.Sprintf("%s.protocols[%d]", p, i)
		if seen[proto] {
			v.sink.addf(pp, "protocol %q listed twice", proto)
		}
		seen[proto] = true
		switch {
		case proto == "h2" && l.TLS == nil:
			v.sink.addf(pp, "h2 needs tls on this listener (use h2c for HTTP/2 without TLS)")
		case proto == "h2c" && l.TLS != nil:
			v.sink.addf(pp, "h2c is HTTP/2 without TLS; with tls use h2")
		}
	}
	if l.TLS != nil && l.TLS.CertFile != "" && l.TLS.KeyFile != "" {
		if _, err := tls.LoadX509KeyPair(l.TLS.CertFile, l.TLS.KeyFile); err != nil {
			v.sink.addf(p+".tls", "cannot load certificate: %v", err)
		}
	}
}

func (v *validator) limits(p string, l ListenerLimits) {
	if l.MaxHeaderBytes < 1024 {
		v.sink.addf(p+".max_header_bytes", "must be at least 1KiB")
	}
	if l.MaxConcurrentStreams < 1 {
		v.sink.addf(p+".max_concurrent_streams", "must be at least 1")
	}
	if l.MaxConnections < 0 {
		v.sink.addf(p+".max_connections", "must not be negative")
	}
}

// hostPort checks a host:port listen or dial address.
func (v *validator) hostPort(path, addr string) bool {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		v.sink.addf(path, "%q is not host:port: %v", addr, strings.TrimPrefix(err.Error(), "address "+addr+": "))
		return false
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		v.sink.addf(path, "%q has a bad port %q", addr, port)
		return false
	}
	if strings.ContainsAny(host, " /") {
		v.sink.addf(path, "%q has a bad host %q", addr, host)
		return false
	}
	return true
}

// normAddr gives a key for duplicate detection; "" for port 0 (always unique).
func normAddr(addr string) string {
	host, port, _ := net.SplitHostPort(addr)
	if port == "0" {
		return ""
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "*"
	}
	return host + ":" + port
}

func (v *validator) upstreams() {
	for name, u := range v.c.Upstreams {
		p := "upstreams." + name
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
	if n != 1 {
		v.sink.addf(p+".hash_on", "set exactly one of header, cookie, client_ip")
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

func (v *validator) routes() {
	listeners := map[string]bool{}
	for _, l := range v.c.Listeners {
		listeners[l.Name] = true
	}
	names := map[string]string{}
	for i := range v.c.Routes {
		r := &v.c.Routes[i]
		p := fmt.Sprintf("routes[%d]", i)
		if r.Name == "" {
			r.Name = fmt.Sprintf("route-%d", i)
		}
		if prev, dup := names[r.Name]; dup {
			v.sink.addf(p+".name", "duplicate route name %q (first at %s)", r.Name, prev)
		}
		names[r.Name] = p
		for j, l := range r.Listeners {
			if !listeners[l] {
				v.sink.addf(fmt.Sprintf("%s.listeners[%d]", p, j), "no listener named %q", l)
			}
		}
		v.match(p+".match", r.Match)
		v.action(p, r)
	}
}

func (v *validator) match(p string, m Match) {
	for i, h := range m.Hosts {
		hp := fmt.Sprintf("%s.hosts[%d]", p, i)
		rest := strings.TrimPrefix(h, "*.")
		if h == "" || strings.ContainsAny(rest, "*/: ") {
			v.sink.addf(hp, "%q is not a host name or *.domain wildcard", h)
		}
	}
	for i, meth := range m.Methods {
		if !validToken(meth) {
			v.sink.addf(fmt.Sprintf("%s.methods[%d]", p, i), "%q is not a method", meth)
		}
	}
	for _, kv := range []struct {
		key, val string
	}{{"path", m.Path}, {"prefix", m.Prefix}, {"template", m.Template}} {
		if kv.val != "" && !strings.HasPrefix(kv.val, "/") {
			v.sink.addf(p+"."+kv.key, "must start with /")
		}
	}
	v.regex(p+".regex", m.Regex)
	v.valueMatches(p+".headers", m.Headers, true)
	v.valueMatches(p+".query", m.Query, false)
}

func (v *validator) valueMatches(p string, ms []ValueMatch, header bool) {
	for i, m := range ms {
		mp := fmt.Sprintf("%s[%d]", p, i)
		if header && !httpguts.ValidHeaderFieldName(m.Name) {
			v.sink.addf(mp+".name", "%q is not a valid header name", m.Name)
		}
		if m.Value != "" && m.Regex != "" {
			v.sink.addf(mp, "set value or regex, not both")
		}
		if m.Present != nil && !*m.Present && (m.Value != "" || m.Regex != "") {
			v.sink.addf(mp+".present", "present: false cannot be combined with value or regex")
		}
		v.regex(mp+".regex", m.Regex)
	}
}

func (v *validator) regex(p, re string) {
	if re == "" {
		return
	}
	if _, err := regexp.Compile(re); err != nil {
		v.sink.addf(p, "bad regex: %v", strings.TrimPrefix(err.Error(), "error parsing regexp: "))
	}
}

func (v *validator) action(p string, r *Route) {
	n := 0
	for _, set := range []bool{r.Proxy != nil, r.Redirect != nil, r.Respond != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		v.sink.addf(p, "a route needs exactly one of proxy, redirect, respond (has %d)", n)
	}
	if r.Proxy != nil {
		v.proxy(p+".proxy", r.Proxy)
	}
	if r.Redirect != nil {
		v.redirect(p+".redirect", r.Redirect)
	}
	if r.Respond != nil && (r.Respond.Status < 100 || r.Respond.Status > 599) {
		v.sink.addf(p+".respond.status", "%d is not an HTTP status", r.Respond.Status)
	}
	if r.Rewrite != nil {
		v.rewrite(p+".rewrite", r.Rewrite, r.Proxy != nil)
	}
	v.headerChanges(p+".request_headers", r.RequestHeaders)
	v.headerChanges(p+".response_headers", r.ResponseHeaders)
}

func (v *validator) proxy(p string, a *ProxyAction) {
	if a.Upstream != "" {
		if _, ok := v.c.Upstreams[a.Upstream]; !ok {
			v.sink.addf(p+".upstream", "no upstream named %q", a.Upstream)
		}
	}
	if a.Timeout > 0 && a.PerTryTimeout > a.Timeout {
		v.sink.addf(p+".per_try_timeout", "is longer than timeout")
	}
	if a.Retry != nil {
		v.nonNegative(p+".retry.attempts", a.Retry.Attempts)
		if a.Retry.Attempts > 10 {
			v.sink.addf(p+".retry.attempts", "at most 10 retries")
		}
		for i, m := range a.Retry.Methods {
			if !validToken(m) {
				v.sink.addf(fmt.Sprintf("%s.retry.methods[%d]", p, i), "%q is not a method", m)
			}
		}
	}
}

func (v *validator) redirect(p string, r *RedirectAction) {
	switch r.Status {
	case 301, 302, 303, 307, 308:
	default:
		v.sink.addf(p+".status", "%d is not a redirect status (301, 302, 303, 307, 308)", r.Status)
	}
	if r.URL != "" {
		u, err := url.Parse(r.URL)
		if err != nil || u.Scheme == "" || u.Host == "" {
			v.sink.addf(p+".url", "%q is not an absolute URL", r.URL)
		}
		if r.Scheme != "" || r.Host != "" || r.Path != "" {
			v.sink.addf(p+".url", "url cannot be combined with scheme, host or path")
		}
		return
	}
	if r.Scheme == "" && r.Host == "" && r.Path == "" {
		v.sink.addf(p, "set url, or at least one of scheme, host, path")
	}
	if r.Scheme != "" && r.Scheme != "http" && r.Scheme != "https" {
		v.sink.addf(p+".scheme", "%q is not http or https", r.Scheme)
	}
	if r.Path != "" && !strings.HasPrefix(r.Path, "/") {
		v.sink.addf(p+".path", "must start with /")
	}
}

func (v *validator) rewrite(p string, r *Rewrite, proxied bool) {
	if !proxied {
		v.sink.addf(p, "rewrite applies only to proxy routes")
	}
	n := 0
	for _, set := range []bool{r.StripPrefix != "", r.Path != "", r.Regex != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		v.sink.addf(p, "set exactly one of strip_prefix, path, regex")
	}
	if r.Path != "" && !strings.HasPrefix(r.Path, "/") {
		v.sink.addf(p+".path", "must start with /")
	}
	if r.Regex != nil {
		v.regex(p+".regex.pattern", r.Regex.Pattern)
	}
}

func (v *validator) headerChanges(p string, h *HeaderChanges) {
	if h == nil {
		return
	}
	check := func(kp, name string) {
		if !httpguts.ValidHeaderFieldName(name) {
			v.sink.addf(kp, "%q is not a valid header name", name)
		}
	}
	for k, val := range h.Add {
		check(p+".add."+k, k)
		v.headerValue(p+".add."+k, val)
	}
	for k, val := range h.Set {
		check(p+".set."+k, k)
		v.headerValue(p+".set."+k, val)
	}
	for i, k := range h.Remove {
		check(fmt.Sprintf("%s.remove[%d]", p, i), k)
	}
}

func (v *validator) headerValue(p, val string) {
	if !httpguts.ValidHeaderFieldValue(val) {
		v.sink.addf(p, "header value has characters not allowed in HTTP")
	}
}

func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !httpguts.IsTokenRune(rune(s[i])) {
			return false
		}
	}
	return true
}
