package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sort"

	"github.com/bouncer-proxy/bouncer/configs"
	"github.com/bouncer-proxy/bouncer/l4/upstream"
	"github.com/bouncer-proxy/bouncer/l7"
	"github.com/bouncer-proxy/bouncer/l7/aggregate"
	"github.com/bouncer-proxy/bouncer/l7/policy"
	"github.com/bouncer-proxy/bouncer/l7/policy/traffic"
	"github.com/bouncer-proxy/bouncer/l7/proxy"
	"github.com/bouncer-proxy/bouncer/l7/route"
	"github.com/bouncer-proxy/bouncer/transcode"
)

// generation is everything built from one config, before it serves.
type generation struct {
	cfg      *configs.Config
	snap     *l7.Snapshot
	clusters map[string]*upstream.Cluster
	grpc     map[string]*grpcSource          // descriptor sources of transcode routes, by upstream
	trans    map[string]*transcode.Handler   // transcode routes' handlers, by route name
	warm     map[string][]*transcode.Handler // the same, by gRPC upstream: rebuilt when its descriptors change
	policies *policy.Set                     // the named policies; closed when the generation retires
	mirrors  []*traffic.Mirror               // routes' mirrors, whose shadow requests a shutdown waits for
	// aggregate routes by name (or place in the file), whose breakers the
	// next generation takes over
	aggregates map[string]*aggregate.Aggregator
}

// deps is what a build uses that outlives it.
type deps struct {
	reg     *upstream.Registry
	tr      *proxy.Transports
	metrics *l7.Metrics // nil: none
	grpc    *grpcSources
	log     *slog.Logger
	pol     *policy.State // policies' state kept across reloads
	prev    *generation   // the generation this build replaces (nil: none), read only
}

// build compiles cfg into a generation: clusters (reusing endpoint state
// kept by reg), transports, route tables. It binds no sockets and starts
// no goroutines, so `bouncer validate` runs it too. Every problem found is
// returned, located in the config file.
func build(cfg *configs.Config, d deps) (*generation, error) {
	var errs configs.Errors
	trusted := trustedOf(cfg)
	g := &generation{cfg: cfg, clusters: map[string]*upstream.Cluster{}, grpc: map[string]*grpcSource{},
		trans: map[string]*transcode.Handler{}, warm: map[string][]*transcode.Handler{},
		aggregates: map[string]*aggregate.Aggregator{}}
	names := make([]string, 0, len(cfg.Upstreams))
	for name := range cfg.Upstreams {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		c, err := d.reg.Build(name, cfg.Upstreams[name])
		if err != nil {
			errs = append(errs, cfg.Errorf("upstreams."+name, "%v", err))
			continue
		}
		g.clusters[name] = c
	}
	if d.pol == nil { // a build that never serves (tests): state of its own
		d.pol = policy.NewState(d.log, nil)
	}
	set, perrs := policy.Build(cfg, d.pol)
	errs = append(errs, perrs...)
	routes := make([]*l7.Route, len(cfg.Routes))
	for i := range cfg.Routes {
		rt, err := buildRoute(cfg, i, g, d, trusted)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		routes[i] = rt
	}
	if len(errs) > 0 {
		if set != nil {
			set.Close()
		}
		return nil, errs
	}
	g.policies = set
	tables, terrs := buildTables(cfg, routes, set)
	errs = append(errs, terrs...)
	if len(errs) > 0 {
		set.Close()
		return nil, errs
	}
	g.snap = &l7.Snapshot{
		Tables:          tables,
		Trusted:         trusted,
		RequestIDHeader: cfg.Server.RequestIDHeader,
		MaxBodyBytes:    int64(cfg.Server.MaxBodyBytes),
		EscapedSlashes:  cfg.Server.EscapedSlashes,
		AccessLog:       cfg.Log.AccessLog,
		Listeners:       l7.ListenerPolicies(cfg),
	}
	return g, nil
}

func buildRoute(cfg *configs.Config, i int, g *generation, d deps, trusted *l7.Trusted) (*l7.Route, *configs.Error) {
	rc := cfg.Routes[i]
	p := fmt.Sprintf("routes[%d]", i)
	var terminal http.Handler
	switch {
	case rc.Proxy != nil:
		h, err := proxyTerminal(cfg, p, rc, g, d, trusted)
		if err != nil {
			return nil, err
		}
		terminal = h
	case rc.Transcode != nil:
		h, err := transcodeTarget(cfg, rc.Name, g, d, trusted) // an aggregate route may have built it already
		if err != nil {
			return nil, err
		}
		terminal = h
	case rc.Aggregate != nil:
		h, err := aggregateTerminal(cfg, p, rc, g, d, trusted)
		if err != nil {
			return nil, err
		}
		terminal = h
	}
	rt, err := l7.NewRoute(rc, terminal)
	if err != nil {
		return nil, cfg.Errorf(p+".rewrite", "%v", err)
	}
	return rt, nil
}

// newProxy builds the proxy of a route to upstream name.
func newProxy(cfg *configs.Config, g *generation, d deps, trusted *l7.Trusted, name string, a configs.ProxyAction) (*proxy.Proxy, *configs.Error) {
	c := g.clusters[name]
	if c == nil {
		return nil, cfg.Errorf("upstreams."+name, "upstream %q could not be built", name)
	}
	rtr, scheme, err := d.tr.Get(name, c.Config(), c)
	if err != nil {
		return nil, cfg.Errorf("upstreams."+name+".tls", "%v", err)
	}
	return proxy.New(proxy.Options{Cluster: c, Transport: rtr, Scheme: scheme, Action: a, Trusted: trusted, Metrics: d.metrics}), nil
}

// withPolicies returns rt with the policy chain it has on listener l: the
// listener's policies (unless the route opts out), then its own. Routes
// without policies are returned as they are; others are copied, since a
// route may be served on listeners with different policies.
func withPolicies(rt *l7.Route, set *policy.Set, l configs.Listener, rc configs.Route) *l7.Route {
	names := routePolicies(l, rc)
	if len(names) == 0 || set == nil {
		return rt
	}
	c := *rt
	c.Policies = set.Chain(names, rt.Inner())
	return &c
}

// routePolicies names the policies of rc on listener l: the listener's
// (unless the route opts out), then its own.
func routePolicies(l configs.Listener, rc configs.Route) []string {
	var names []string
	if rc.InheritPolicies {
		names = append(names, l.Policies...)
	}
	return append(names, rc.Policies...)
}

func trustedOf(cfg *configs.Config) *l7.Trusted {
	t, _ := l7.TrustedFrom(cfg.Server.TrustedProxies) // checked by Validate
	return t
}

// buildTables compiles one route table per listener: a route serves on
// the listeners it names, or on all of them. A route that an earlier one
// shadows on some of its listeners but not all (a catch-all behind a
// listener-specific redirect, say) is left out of the tables where it can
// never match; it is an error only when it can match on none.
func buildTables(cfg *configs.Config, routes []*l7.Route, set *policy.Set) (map[string]*route.Table[*l7.Route], configs.Errors) {
	var errs configs.Errors
	tables := map[string]*route.Table[*l7.Route]{}
	reported := map[string]bool{}
	report := func(es configs.Errors) {
		for _, e := range es {
			if !reported[e.Error()] {
				reported[e.Error()] = true
				errs = append(errs, e)
			}
		}
	}
	served := map[int]int{}                // by route index: listeners it is on
	shadowed := map[int][]*configs.Error{} // by route index: where it never matches
	for _, l := range cfg.Listeners {
		var entries []route.Entry[*l7.Route]
		for i, rc := range cfg.Routes {
			if len(rc.Listeners) > 0 && !slices.Contains(rc.Listeners, l.Name) {
				continue
			}
			served[i]++
			rt := withPolicies(routes[i], set, l, rc)
			entries = append(entries, route.Entry[*l7.Route]{Name: rc.Name, Match: rc.Match, Value: rt, Index: i})
		}
		t, never, others := compileTable(cfg, entries)
		report(others)
		for i, e := range never {
			shadowed[i] = append(shadowed[i], e)
		}
		if t != nil {
			tables[l.Name] = t
		}
	}
	for i := range cfg.Routes {
		if es := shadowed[i]; len(es) > 0 && len(es) == served[i] {
			report(es[:1])
		}
	}
	return tables, errs
}

// compileTable compiles one listener's entries. Routes that can never
// match there are returned in never (by route index) and left out of the
// table; other problems are returned in others, with a nil table.
func compileTable(cfg *configs.Config, entries []route.Entry[*l7.Route]) (*route.Table[*l7.Route], map[int]*configs.Error, configs.Errors) {
	t, err := route.Compile(entries)
	if err == nil {
		return t, nil, nil
	}
	never := map[int]*configs.Error{}
	var others configs.Errors
	for _, e := range unwrapAll(err) {
		var re *route.Error
		if errors.As(e, &re) && errors.Is(re.Err, route.ErrNeverMatches) {
			never[re.Index] = cfg.Errorf(re.Path(), "%v", re.Err)
			continue
		}
		others = append(others, routeErrors(cfg, e)...)
	}
	if len(others) > 0 {
		return nil, never, others
	}
	kept := slices.DeleteFunc(slices.Clone(entries), func(e route.Entry[*l7.Route]) bool { return never[e.Index] != nil })
	// Dropping routes that never match cannot make another one unmatchable.
	t, err = route.Compile(kept)
	if err != nil {
		return nil, never, routeErrors(cfg, err)
	}
	return t, never, nil
}

func unwrapAll(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// routeErrors locates the router's compile errors in the config file.
func routeErrors(cfg *configs.Config, err error) configs.Errors {
	var out configs.Errors
	for _, e := range unwrapAll(err) {
		var re *route.Error
		if errors.As(e, &re) {
			out = append(out, cfg.Errorf(re.Path(), "%v", re.Err))
			continue
		}
		out = append(out, cfg.Errorf("routes", "%v", e))
	}
	return out
}
