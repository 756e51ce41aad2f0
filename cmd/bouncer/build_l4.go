package main

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/bouncer-proxy/bouncer/configs"
	"github.com/bouncer-proxy/bouncer/l4"
	"github.com/bouncer-proxy/bouncer/l4/connlimit"
	"github.com/bouncer-proxy/bouncer/l4/peek"
	"github.com/bouncer-proxy/bouncer/l4/router"
	"github.com/bouncer-proxy/bouncer/l4/tcpproxy"
	"github.com/bouncer-proxy/bouncer/l4/upstream"
	"github.com/bouncer-proxy/bouncer/l7/proxy"
	"github.com/bouncer-proxy/bouncer/listener/proxyproto"
)

// l4State is what a port with tcp in its listener's protocols needs per
// connection: the route table and how to inspect. Immutable; swapped
// whole on reload (connections keep the state they started with).
type l4State struct {
	listener string
	table    *router.Table[*l4.Route]
	peek     bool // routes need the peek (server name, ALPN, TLS or HTTP sharing the port)
	http     bool // HTTP is served on this port too
	tls      bool // the listener has tls: ACME TLS-ALPN-01 hellos go to its HTTP server, which answers them
	opts     peek.Options
	limiter  *connlimit.Limiter // nil: no per-client limits
	limits   connlimit.Limits   // what limiter enforces
}

// buildL4 compiles the TCP routes of listener l. serverTLS is the
// listener's TLS config (for terminate routes; nil without tls).
func buildL4(cfg *configs.Config, l configs.Listener, clusters map[string]*upstream.Cluster, serverTLS *tls.Config) (*l4State, error) {
	st := &l4State{
		listener: l.Name,
		http:     slices.ContainsFunc(l.Protocols, func(p string) bool { return p == "http1" || p == "h2c" || p == "h2" }),
		opts:     peek.Options{MaxBytes: int(l.L4.PeekMaxBytes), Timeout: l.L4.PeekTimeout.D()},
	}
	st.tls = l.TLS != nil
	st.peek = st.http
	var entries []router.Entry[*l4.Route]
	for _, rc := range cfg.L4Routes {
		kind, act := rc.Action()
		if kind == "udp" || len(rc.Listeners) > 0 && !slices.Contains(rc.Listeners, l.Name) {
			continue
		}
		rt, err := l4Route(rc, kind, cfg.Upstreams[act.Upstream], clusters[act.Upstream], serverTLS, cfg.Log.AccessLog)
		if err != nil {
			return nil, cfg.Errorf("l4_routes", "route %s: %v", rc.Name, err)
		}
		m, err := l4Match(rc.Match, kind)
		if err != nil {
			return nil, cfg.Errorf("l4_routes", "route %s: %v", rc.Name, err)
		}
		if len(m.SNI) > 0 || len(m.ALPN) > 0 || m.TLS != nil {
			st.peek = true
		}
		entries = append(entries, router.Entry[*l4.Route]{Name: rc.Name, Match: m, Value: rt})
	}
	tab, err := router.Compile(entries)
	if err != nil {
		return nil, cfg.Errorf("l4_routes", "%v", err)
	}
	st.table = tab
	return st, nil
}

func l4Route(rc configs.L4Route, kind string, uc configs.Upstream, c *upstream.Cluster, serverTLS *tls.Config, accessLog bool) (*l4.Route, error) {
	rt := &l4.Route{
		Name: rc.Name, Kind: kind, Cluster: c, Tries: rc.ConnectTries, Connect: uc.ConnectTimeout.D(),
		Pipe:    tcpproxy.Options{IdleTimeout: rc.IdleTimeout.D(), MaxLifetime: rc.MaxLifetime.D(), Jitter: rc.LifetimeJitter.D()},
		HashSNI: uc.HashOn != nil && uc.HashOn.SNI, AccessLog: accessLog,
	}
	switch uc.ProxyProtocol {
	case "v1":
		rt.SendProxy = 1
	case "v2":
		rt.SendProxy = 2
	}
	if kind == "terminate" {
		if serverTLS == nil {
			return nil, fmt.Errorf("terminate needs the listener's tls")
		}
		rt.Terminate = serverTLS.Clone()
		rt.Terminate.NextProtos = nil // the TCP service's own protocol; ALPN is not HTTP's here
	}
	if kind != "passthrough" && uc.TLS != nil {
		tc, err := proxy.UpstreamTLS(uc.TLS)
		if err != nil {
			return nil, err
		}
		rt.Upstream = tc
	}
	return rt, nil
}

func l4Match(m configs.L4Match, kind string) (router.Match, error) {
	out := router.Match{SNI: m.SNI, ALPN: m.ALPN, TLS: m.TLS}
	for _, p := range m.Ports {
		out.Ports = append(out.Ports, uint16(p))
	}
	for _, c := range m.Clients {
		p, err := configs.ParsePrefix(c)
		if err != nil {
			return out, err
		}
		out.Clients = append(out.Clients, p)
	}
	if (kind == "passthrough" || kind == "terminate") && out.TLS == nil {
		yes := true
		out.TLS = &yes // they need a ClientHello
	}
	return out, nil
}

// addrPort is the address of a net.Addr, zero when it has none.
func addrPort(a net.Addr) netip.AddrPort {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.AddrPort()
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}

// proxyListener reads PROXY protocol headers from the trusted peers of
// pp on the connections of ln.
func proxyListener(ln net.Listener, pp *configs.ProxyProtocolIn) (net.Listener, error) {
	o := proxyproto.Options{Timeout: pp.Timeout.D()}
	for _, c := range pp.Trusted {
		p, err := configs.ParsePrefix(c)
		if err != nil {
			return nil, err
		}
		o.Trusted = append(o.Trusted, p)
	}
	switch pp.Policy {
	case "require":
		o.Policy = proxyproto.Require
	case "use":
		o.Policy = proxyproto.Use
	case "ignore":
		o.Policy = proxyproto.Ignore
	case "reject":
		o.Policy = proxyproto.Reject
	}
	return proxyproto.NewListener(ln, o), nil
}

// l4States builds the TCP-routing state of every listener with tcp; the
// per-client limiter of a port is kept when its limits did not change.
func (a *App) l4States(cfg *configs.Config, g *generation, started map[string]*runningServer) (map[string]*l4State, error) {
	out := map[string]*l4State{}
	for _, lc := range cfg.Listeners {
		if !slices.Contains(lc.Protocols, "tcp") {
			continue
		}
		var serverTLS *tls.Config
		if rs := started[lc.Name]; rs != nil {
			serverTLS = rs.srv.TLSConfig()
		} else if rs := a.servers[lc.Name]; rs != nil {
			serverTLS = rs.srv.TLSConfig()
		}
		st, err := buildL4(cfg, lc, g.clusters, serverTLS)
		if err != nil {
			return nil, err
		}
		st.limits = connlimit.Limits{PerIP: lc.L4.MaxPerIP, Rate: float64(lc.L4.RatePerIP), Burst: lc.L4.BurstPerIP}
		if prev := a.ports[portKey(lc)].state.Load(); prev != nil && prev.limits == st.limits {
			st.limiter = prev.limiter
		} else if st.limits.PerIP > 0 || st.limits.Rate > 0 {
			st.limiter = connlimit.New(st.limits)
		}
		out[lc.Name] = st
	}
	return out, nil
}
