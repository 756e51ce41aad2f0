package configs

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"golang.org/x/net/http/httpguts"
)

func (v *validator) routes() {
	listeners := map[string]Listener{}
	for _, l := range v.c.Listeners {
		listeners[l.Name] = l
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
		for j, name := range r.Listeners {
			switch l, ok := listeners[name]; {
			case !ok:
				v.sink.addf(fmt.Sprintf("%s.listeners[%d]", p, j), "no listener named %q", name)
			case !l.ServesHTTP():
				v.sink.addf(fmt.Sprintf("%s.listeners[%d]", p, j), "listener %q serves no HTTP (protocols %s): the route would never be used", name, strings.Join(l.Protocols, ", "))
			}
		}
		v.match(p+".match", r.Match)
		v.action(p, r)
		if r.ClientCert == "required" {
			v.clientCertRoute(p, r)
		}
	}
}

// ServesHTTP reports whether the listener serves HTTP routes: over TCP
// (http1, h2c, h2) or QUIC (h3), not only l4_routes.
func (l *Listener) ServesHTTP() bool {
	return slices.ContainsFunc(l.Protocols, func(p string) bool { return p == "http1" || p == "h2c" || p == "h2" || p == "h3" })
}

// clientCertRoute checks that every listener a route with client_cert:
// required is served on asks clients for certificates.
func (v *validator) clientCertRoute(p string, r *Route) {
	for _, l := range v.c.Listeners {
		if len(r.Listeners) > 0 && !slices.Contains(r.Listeners, l.Name) || !l.ServesHTTP() {
			continue
		}
		if l.TLS == nil || l.TLS.ClientAuth == nil {
			v.sink.addf(p+".client_cert", "is required, but the route is served on listener %q, which has no tls.client_auth (list the route's listeners, or add client_auth there)", l.Name)
		}
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
	for _, set := range []bool{r.Proxy != nil, r.Transcode != nil, r.Redirect != nil, r.Respond != nil, r.Aggregate != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		v.sink.addf(p, "a route needs exactly one of proxy, transcode, redirect, respond, aggregate (has %d)", n)
	}
	v.traffic(p, r)
	if r.Aggregate != nil {
		v.aggregate(p+".aggregate", r.Aggregate)
	}
	if r.Proxy != nil {
		v.proxy(p+".proxy", r.Proxy)
	}
	if r.Transcode != nil {
		v.transcode(p+".transcode", r.Transcode)
		if r.Rewrite != nil {
			v.sink.addf(p+".rewrite", "a transcode route does not rewrite paths (its bindings name the paths)")
		}
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
	v.upstreamRef(p+".upstream", a.Upstream)
	if a.Timeout > 0 && a.PerTryTimeout > a.Timeout {
		v.sink.addf(p+".per_try_timeout", "is longer than timeout")
	}
	v.retry(p+".retry", a.Retry)
}

func (v *validator) retry(p string, r *Retry) {
	if r == nil {
		return
	}
	v.nonNegative(p+".attempts", r.Attempts)
	if r.Attempts > 10 {
		v.sink.addf(p+".attempts", "at most 10 retries")
	}
	for i, m := range r.Methods {
		if !validToken(m) {
			v.sink.addf(fmt.Sprintf("%s.methods[%d]", p, i), "%q is not a method", m)
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
