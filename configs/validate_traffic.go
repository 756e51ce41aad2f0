package configs

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// ParseDate reads a versions date: 2006-01-02 (midnight UTC) or RFC 3339.
func ParseDate(s string) (time.Time, error) {
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a date (2006-01-02 or RFC 3339)", s)
	}
	return t, nil
}

// traffic checks split, versions and mirror, which change how a proxy
// route picks its upstream.
func (v *validator) traffic(p string, r *Route) {
	for _, x := range []struct {
		name string
		set  bool
	}{{"split", r.Split != nil}, {"versions", r.Versions != nil}, {"mirror", r.Mirror != nil}} {
		if x.set && r.Proxy == nil {
			v.sink.addf(p+"."+x.name, "works with a proxy action: add proxy (its upstream, timeouts and retries apply)")
		}
	}
	if r.Split != nil && r.Versions != nil {
		v.sink.addf(p+".versions", "cannot be used with split on one route")
	}
	if r.Split != nil {
		v.split(p+".split", r.Split, r.Proxy)
	}
	if r.Versions != nil {
		v.versions(p+".versions", r.Versions, r.Proxy)
	}
	if m := r.Mirror; m != nil {
		v.upstreamRef(p+".mirror.upstream", m.Upstream)
		if m.Percent < 0 || m.Percent > 100 {
			v.sink.addf(p+".mirror.percent", "must be between 0 and 100")
		}
		if m.MaxInFlight <= 0 {
			v.sink.addf(p+".mirror.max_in_flight", "must be more than 0")
		}
	}
}

func (v *validator) upstreamRef(p, name string) {
	if _, ok := v.c.Upstreams[name]; !ok {
		v.sink.addf(p, "no upstream named %q", name)
	}
}

func (v *validator) split(p string, s *SplitAction, px *ProxyAction) {
	var ups []string
	sum := 0
	for i, w := range s.Weights {
		v.upstreamRef(fmt.Sprintf("%s.weights[%d].upstream", p, i), w.Upstream)
		if w.Weight < 0 || w.Weight > 10000 {
			v.sink.addf(fmt.Sprintf("%s.weights[%d].weight", p, i), "must be between 0 and 10000")
		}
		sum += w.Weight
		ups = append(ups, w.Upstream)
	}
	if sum <= 0 {
		v.sink.addf(p+".weights", "the weights add up to 0")
	}
	if px != nil && !slices.Contains(ups, px.Upstream) {
		v.sink.addf(p+".weights", "do not list the route's proxy.upstream %q", px.Upstream)
	}
	for i, r := range s.Rules {
		rp := fmt.Sprintf("%s.rules[%d]", p, i)
		if (r.Header == "") == (r.Cookie == "") {
			v.sink.addf(rp, "set exactly one of header and cookie")
		}
		if r.Value != "" && r.Regex != "" {
			v.sink.addf(rp, "set at most one of value and regex")
		}
		if r.Regex != "" {
			if _, err := regexp.Compile(r.Regex); err != nil {
				v.sink.addf(rp+".regex", "bad regex: %v", err)
			}
		}
		if !slices.Contains(ups, r.Upstream) {
			v.sink.addf(rp+".upstream", "%q is not one of the split's weights", r.Upstream)
		}
	}
	switch k := s.Sticky; {
	case k == "", k == "client_ip", k == "consumer":
	case strings.HasPrefix(k, "header:") && len(k) > 7, strings.HasPrefix(k, "cookie:") && len(k) > 7:
	default:
		v.sink.addf(p+".sticky", "%q is not client_ip, consumer, header:NAME or cookie:NAME", k)
	}
	if c := s.PinCookie; c != nil && len(c.Key) < 16 {
		v.sink.addf(p+".pin_cookie.key", "must be at least 16 bytes")
	}
}

func (v *validator) versions(p string, vs *VersionsAction, px *ProxyAction) {
	from := vs.From
	if from != "path" && !(strings.HasPrefix(from, "header:") && len(from) > 7) && !(strings.HasPrefix(from, "query:") && len(from) > 6) {
		v.sink.addf(p+".from", "%q is not path, header:NAME or query:NAME", from)
	}
	if vs.StripPrefix && from != "path" {
		v.sink.addf(p+".strip_prefix", "only applies with from: path")
	}
	names := map[string]bool{}
	var ups []string
	for i, ver := range vs.Versions {
		vp := fmt.Sprintf("%s.versions[%d]", p, i)
		if names[ver.Name] {
			v.sink.addf(vp+".name", "duplicate version %q", ver.Name)
		}
		names[ver.Name] = true
		v.upstreamRef(vp+".upstream", ver.Upstream)
		ups = append(ups, ver.Upstream)
		var dep, sun time.Time
		var err error
		if ver.Deprecated != "" {
			if dep, err = ParseDate(ver.Deprecated); err != nil {
				v.sink.addf(vp+".deprecated", "%v", err)
			}
		}
		if ver.Sunset != "" {
			if sun, err = ParseDate(ver.Sunset); err != nil {
				v.sink.addf(vp+".sunset", "%v", err)
			}
		}
		if !dep.IsZero() && !sun.IsZero() && sun.Before(dep) {
			v.sink.addf(vp+".sunset", "is before deprecated")
		}
	}
	if vs.Default != "" && !names[vs.Default] {
		v.sink.addf(p+".default", "%q is not one of the versions", vs.Default)
	}
	if px != nil && !slices.Contains(ups, px.Upstream) {
		v.sink.addf(p+".versions", "do not use the route's proxy.upstream %q", px.Upstream)
	}
}

func (v *validator) aggregate(p string, a *AggregateAction) {
	transcode := map[string]bool{}
	for _, r := range v.c.Routes {
		if r.Transcode != nil {
			transcode[r.Name] = true
		}
	}
	names := map[string]bool{}
	for _, c := range a.Calls {
		names[c.Name] = true
	}
	v.nonNegative(p+".breaker_threshold", a.BreakerThreshold)
	seen := map[string]bool{}
	for i, c := range a.Calls {
		cp := fmt.Sprintf("%s.calls[%d]", p, i)
		if seen[c.Name] {
			v.sink.addf(cp+".name", "duplicate call %q", c.Name)
		}
		seen[c.Name] = true
		switch {
		case (c.Upstream == "") == (c.Route == ""):
			v.sink.addf(cp, "set exactly one of upstream and route")
		case c.Upstream != "":
			v.upstreamRef(cp+".upstream", c.Upstream)
		case !transcode[c.Route]:
			v.sink.addf(cp+".route", "no transcode route named %q", c.Route)
		}
		if !strings.HasPrefix(c.Path, "/") {
			v.sink.addf(cp+".path", "must start with /")
		}
		if !validToken(c.Method) {
			v.sink.addf(cp+".method", "%q is not a method", c.Method)
		}
		v.nonNegative(cp+".retries", c.Retries)
		for j, dep := range c.After {
			if !names[dep] {
				v.sink.addf(fmt.Sprintf("%s.after[%d]", cp, j), "no call named %q", dep)
			}
		}
	}
}
