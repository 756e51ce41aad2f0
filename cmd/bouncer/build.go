package main

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sort"

	"github.com/bouncer-proxy/bouncer/configs"
	"github.com/bouncer-proxy/bouncer/l4/upstream"
	"github.com/bouncer-proxy/bouncer/l7"
	"github.com/bouncer-proxy/bouncer/l7/proxy"
	"github.com/bouncer-proxy/bouncer/l7/route"
)

// generation is everything built from one config, before it serves.
type generation struct {
	cfg      *configs.Config
	snap     *l7.Snapshot
	clusters map[string]*upstream.Cluster
}

// build compiles cfg into a generation: clusters (reusing endpoint state
// kept by reg), transports, route tables. It binds no sockets and starts
// no goroutines, so `bouncer validate` runs it too. Every problem found is
// returned, located in the config file.
func build(cfg *configs.Config, reg *upstream.Registry, tr *proxy.Transports, m *l7.Metrics) (*generation, error) {
	var errs configs.Errors
	trusted := trustedOf(cfg)
	g := &generation{cfg: cfg, clusters: map[string]*upstream.Cluster{}}
	names := make([]string, 0, len(cfg.Upstreams))
	for name := range cfg.Upstreams {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		c, err := reg.Build(name, cfg.Upstreams[name])
		if err != nil {
			errs = append(errs, cfg.Errorf("upstreams."+name, "%v", err))
			continue
		}
		g.clusters[name] = c
	}
	routes := make([]*l7.Route, len(cfg.Routes))
	for i := range cfg.Routes {
		rt, err := buildRoute(cfg, i, g.clusters, tr, m, trusted)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		routes[i] = rt
	}
	tables, terrs := buildTables(cfg, routes)
	errs = append(errs, terrs...)
	if len(errs) > 0 {
		return nil, errs
	}
	g.snap = &l7.Snapshot{
		Tables:          tables,
		Trusted:         trusted,
		RequestIDHeader: cfg.Server.RequestIDHeader,
		MaxBodyBytes:    int64(cfg.Server.MaxBodyBytes),
		AccessLog:       cfg.Log.AccessLog,
	}
	return g, nil
}

func buildRoute(cfg *configs.Config, i int, clusters map[string]*upstream.Cluster, tr *proxy.Transports, m *l7.Metrics, trusted *l7.Trusted) (*l7.Route, *configs.Error) {
	rc := cfg.Routes[i]
	p := fmt.Sprintf("routes[%d]", i)
	rt := &l7.Route{Name: rc.Name}
	switch {
	case rc.Proxy != nil:
		c := clusters[rc.Proxy.Upstream]
		if c == nil {
			return nil, cfg.Errorf(p+".proxy.upstream", "upstream %q could not be built", rc.Proxy.Upstream)
		}
		rtr, scheme, err := tr.Get(rc.Proxy.Upstream, c.Config(), c)
		if err != nil {
			return nil, cfg.Errorf("upstreams."+rc.Proxy.Upstream+".tls", "%v", err)
		}
		rt.Terminal = proxy.New(proxy.Options{Cluster: c, Transport: rtr, Scheme: scheme, Action: *rc.Proxy, Trusted: trusted, Metrics: m})
	case rc.Redirect != nil:
		rt.Terminal = l7.NewRedirect(*rc.Redirect)
	case rc.Respond != nil:
		rt.Terminal = l7.NewRespond(*rc.Respond)
	}
	if rc.Rewrite != nil {
		rw, err := l7.NewRewriter(rc.Rewrite)
		if err != nil {
			return nil, cfg.Errorf(p+".rewrite", "%v", err)
		}
		rt.Rewrite = rw
	}
	if rc.RequestHeaders != nil {
		rt.ReqHdr = l7.NewHeaderOps(rc.RequestHeaders)
	}
	if rc.ResponseHeaders != nil {
		rt.RespHdr = l7.NewHeaderOps(rc.ResponseHeaders)
	}
	return rt, nil
}

func trustedOf(cfg *configs.Config) *l7.Trusted {
	var prefixes []netip.Prefix
	for _, p := range cfg.Server.TrustedProxies {
		pfx, _ := configs.ParsePrefix(p) // checked by Validate
		prefixes = append(prefixes, pfx)
	}
	return l7.NewTrusted(prefixes)
}

// buildTables compiles one route table per listener: a route serves on
// the listeners it names, or on all of them.
func buildTables(cfg *configs.Config, routes []*l7.Route) (map[string]*route.Table[*l7.Route], configs.Errors) {
	var errs configs.Errors
	tables := map[string]*route.Table[*l7.Route]{}
	reported := map[string]bool{}
	for _, l := range cfg.Listeners {
		var entries []route.Entry[*l7.Route]
		for i, rc := range cfg.Routes {
			if len(rc.Listeners) > 0 && !slices.Contains(rc.Listeners, l.Name) {
				continue
			}
			entries = append(entries, route.Entry[*l7.Route]{Name: rc.Name, Match: rc.Match, Value: routes[i], Index: i})
		}
		t, err := route.Compile(entries)
		if err != nil {
			for _, e := range routeErrors(cfg, err) {
				if !reported[e.Error()] {
					reported[e.Error()] = true
					errs = append(errs, e)
				}
			}
			continue
		}
		tables[l.Name] = t
	}
	return tables, errs
}

// routeErrors locates the router's compile errors in the config file.
func routeErrors(cfg *configs.Config, err error) configs.Errors {
	var out configs.Errors
	var list []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	} else {
		list = []error{err}
	}
	for _, e := range list {
		var re *route.Error
		if errors.As(e, &re) {
			out = append(out, cfg.Errorf(re.Path(), "%v", re.Err))
			continue
		}
		out = append(out, cfg.Errorf("routes", "%v", e))
	}
	return out
}
