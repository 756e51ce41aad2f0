package main

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/bouncer-proxy/bouncer/configs"
	"github.com/bouncer-proxy/bouncer/l7"
	"github.com/bouncer-proxy/bouncer/l7/aggregate"
	"github.com/bouncer-proxy/bouncer/l7/policy/traffic"
	"github.com/bouncer-proxy/bouncer/l7/route"
)

// proxyTerminal is a proxy route's terminal: a proxy to its upstream, or
// with split or versions a choice among proxies that share the route's
// timeouts and retries, and with mirror a copy of each request to a
// shadow upstream.
func proxyTerminal(cfg *configs.Config, p string, rc configs.Route, g *generation, d deps, trusted *l7.Trusted) (http.Handler, *configs.Error) {
	backends := map[string]http.Handler{}
	backend := func(name string) *configs.Error {
		if backends[name] != nil {
			return nil
		}
		a := *rc.Proxy
		a.Upstream = name
		px, err := newProxy(cfg, g, d, trusted, name, a)
		if err != nil {
			return err
		}
		backends[name] = px
		return nil
	}
	if err := backend(rc.Proxy.Upstream); err != nil {
		return nil, err
	}
	h := backends[rc.Proxy.Upstream]
	var err *configs.Error
	switch {
	case rc.Split != nil:
		h, err = splitHandler(cfg, p+".split", rc.Split, backend, backends)
	case rc.Versions != nil:
		h, err = versionsHandler(cfg, p+".versions", rc, backend, backends)
	}
	if err != nil {
		return nil, err
	}
	if m := rc.Mirror; m != nil {
		shadow, err := newProxy(cfg, g, d, trusted, m.Upstream, configs.ProxyAction{Upstream: m.Upstream, Timeout: m.Timeout, Forwarded: rc.Proxy.Forwarded})
		if err != nil {
			return nil, err
		}
		mr, merr := traffic.NewMirror(traffic.MirrorOptions{Percent: m.Percent, MaxBodyBytes: int64(m.MaxBodyBytes), Timeout: m.Timeout.D(), MaxInFlight: m.MaxInFlight}, shadow)
		if merr != nil {
			return nil, cfg.Errorf(p+".mirror", "%v", merr)
		}
		g.mirrors = append(g.mirrors, mr)
		h = mr.Wrap(h)
	}
	return h, nil
}

// splitHandler chooses among the proxies of a split's upstreams.
func splitHandler(cfg *configs.Config, p string, s *configs.SplitAction, backend func(string) *configs.Error, backends map[string]http.Handler) (http.Handler, *configs.Error) {
	o := traffic.SplitOptions{Sticky: s.Sticky, Salt: s.Salt}
	for _, w := range s.Weights {
		if err := backend(w.Upstream); err != nil {
			return nil, err
		}
		o.Weights = append(o.Weights, traffic.Weighted{Backend: w.Upstream, Weight: w.Weight})
	}
	for _, r := range s.Rules {
		o.Rules = append(o.Rules, traffic.Rule{Header: r.Header, Cookie: r.Cookie, Value: r.Value, Regex: r.Regex, Backend: r.Upstream})
	}
	if c := s.PinCookie; c != nil {
		o.SetCookie = traffic.PinCookie{Name: c.Name, TTL: c.TTL.D(), Key: []byte(c.Key), Secure: c.Secure}
	}
	sp, err := traffic.NewSplit(o, backends)
	if err != nil {
		return nil, cfg.Errorf(p, "%v", err)
	}
	return sp, nil
}

// versionsHandler chooses among the proxies of a route's API versions.
func versionsHandler(cfg *configs.Config, p string, rc configs.Route, backend func(string) *configs.Error, backends map[string]http.Handler) (http.Handler, *configs.Error) {
	vs := rc.Versions
	o := traffic.VersionOptions{From: vs.From, StripPrefix: vs.StripPrefix, Default: vs.Default, RejectAfterSunset: vs.RejectAfterSunset,
		PathPrefix: rc.Match.Prefix} // /api/v1/...: the version follows the route's prefix
	for _, v := range vs.Versions {
		if err := backend(v.Upstream); err != nil {
			return nil, err
		}
		av := traffic.APIVersion{Name: v.Name, Backend: v.Upstream, DeprecationLink: v.DeprecationLink, SunsetLink: v.SunsetLink}
		av.Deprecated, _ = parseDate(v.Deprecated) // checked by Validate
		av.Sunset, _ = parseDate(v.Sunset)
		o.Versions = append(o.Versions, av)
	}
	vr, err := traffic.NewVersions(o, backends)
	if err != nil {
		return nil, cfg.Errorf(p, "%v", err)
	}
	return vr, nil
}

func parseDate(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return configs.ParseDate(s)
}

// aggregateTerminal builds an aggregate route: calls to upstreams go
// through proxies with default settings, calls to transcode routes through
// those routes' handlers (built before, in config order, or on demand).
func aggregateTerminal(cfg *configs.Config, p string, rc configs.Route, g *generation, d deps, trusted *l7.Trusted) (http.Handler, *configs.Error) {
	a := rc.Aggregate
	targets := aggregate.Targets{}
	o := aggregate.Options{Merge: a.Merge, OnError: a.OnError, Timeout: a.Timeout.D(), MaxResponseBytes: int(a.MaxResponseBytes),
		BreakerThreshold: a.BreakerThreshold, BreakerCooldown: a.BreakerCooldown.D(), RequestIDHeader: cfg.Server.RequestIDHeader}
	if rc.Match.Template != "" {
		if vars, ok := route.VarsFunc(rc.Match.Template); ok {
			o.PathVars = func(r *http.Request) map[string]string { return vars(r.URL.EscapedPath()) }
		}
	}
	for _, c := range a.Calls {
		target := "upstream:" + c.Upstream
		if c.Route != "" {
			target = "route:" + c.Route
			if targets[target] == nil {
				h, err := transcodeTarget(cfg, c.Route, g, d, trusted)
				if err != nil {
					return nil, err
				}
				targets[target] = h
			}
		} else if targets[target] == nil {
			px, err := newProxy(cfg, g, d, trusted, c.Upstream, configs.ProxyAction{Upstream: c.Upstream, Timeout: a.Timeout, Forwarded: []string{}})
			if err != nil {
				return nil, err
			}
			targets[target] = px
		}
		o.Calls = append(o.Calls, aggregate.Call{
			Name: c.Name, Target: target, Method: strings.ToUpper(c.Method), Path: c.Path, Query: c.Query, Headers: c.Headers,
			Body: c.Body, After: c.After, Timeout: c.Timeout.D(), Retries: c.Retries, Optional: c.Optional, Fields: c.Fields,
		})
	}
	key := rc.Name // the route across reloads: its name, else its place in the file
	if key == "" {
		key = p
	}
	if d.prev != nil {
		o.Previous = d.prev.aggregates[key] // its open breakers stay open
	}
	ag, err := aggregate.New(o, targets)
	if err != nil {
		return nil, cfg.Errorf(p+".aggregate", "%v", err)
	}
	g.aggregates[key] = ag
	return ag, nil
}

// transcodeTarget returns the handler of the transcode route named name.
func transcodeTarget(cfg *configs.Config, name string, g *generation, d deps, trusted *l7.Trusted) (http.Handler, *configs.Error) {
	if h := g.trans[name]; h != nil {
		return h, nil
	}
	for i, rc := range cfg.Routes {
		if rc.Name == name && rc.Transcode != nil {
			h, err := buildTranscode(cfg, fmt.Sprintf("routes[%d].transcode", i), rc.Transcode, g, d, trusted)
			if err != nil {
				return nil, err
			}
			g.trans[name] = h
			return h, nil
		}
	}
	return nil, cfg.Errorf("routes", "no transcode route named %q", name)
}
