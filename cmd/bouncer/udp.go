package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync/atomic"
	"time"

	"github.com/bouncer-proxy/bouncer/configs"
	"github.com/bouncer-proxy/bouncer/l4/peek"
	"github.com/bouncer-proxy/bouncer/l4/router"
	"github.com/bouncer-proxy/bouncer/l4/udpproxy"
	"github.com/bouncer-proxy/bouncer/l4/upstream"
	"github.com/bouncer-proxy/bouncer/listener"
)

// udpPort is the UDP socket of a listener with udp, and the proxy on it.
// It is kept across reloads while the listener's name, address and the
// session settings stay; the routes are swapped under it, and sessions
// keep the endpoint they started with.
type udpPort struct {
	key    string
	addr   string // the bound address
	port   uint16 // its port, for routes that match on ports
	proxy  *udpproxy.Proxy
	routes atomic.Pointer[udpRoutes]
	cancel context.CancelFunc
	done   chan struct{}
}

// udpRoutes are a UDP listener's compiled routes.
type udpRoutes struct {
	table *router.Table[udpRoute]
	quic  bool // some route matches on sni or alpn: read the QUIC Initial
}

// udpRoute is one compiled udp route: its upstream and its sessions' idle
// timeout.
type udpRoute struct {
	cluster *upstream.Cluster
	idle    time.Duration
}

// udpKey identifies what needs a new socket or proxy when it changes.
func udpKey(lc configs.Listener) string {
	return fmt.Sprintf("%s|%s|%d|%d", lc.Name, lc.Address, lc.L4.UDPSessions, lc.L4.MaxPerIP)
}

// pick is the proxy's balancer: the route for the client, then an
// endpoint of its upstream by consistent hash of the client address, so
// that a client's sessions go to one endpoint while it is healthy.
//
// When a route matches on sni or alpn, the client's first datagrams are
// read as a QUIC Initial (v1 or v2) whose ClientHello names the server,
// without terminating anything; a hello spread over several datagrams is
// waited for. Datagrams that are not QUIC match the routes without sni.
func (u *udpPort) pick(client netip.AddrPort, first [][]byte) (string, time.Duration, error) {
	rs := u.routes.Load()
	c := router.Conn{Port: u.port, Client: client.Addr()}
	if rs.quic {
		h, err := peek.ParseQUIC(first)
		switch {
		case errors.Is(err, peek.ErrNeedMore):
			return "", 0, udpproxy.ErrWait
		case err == nil:
			c.TLS, c.SNI, c.ALPN = true, h.SNI, h.ALPN
		}
	}
	rt, ok := rs.table.Match(&c)
	if !ok {
		return "", 0, errors.New("no udp route for this client")
	}
	ep, err := rt.Value.cluster.Pick(upstream.HashKey(client.Addr().String()), true, nil)
	if err != nil {
		return "", 0, err
	}
	return ep.Address(), rt.Value.idle, nil
}

// udpTables compiles the udp routes of each listener with udp.
func udpTables(cfg *configs.Config, clusters map[string]*upstream.Cluster) (map[string]*udpRoutes, error) {
	tables := map[string]*udpRoutes{}
	for _, lc := range cfg.Listeners {
		if !slices.Contains(lc.Protocols, "udp") {
			continue
		}
		var entries []router.Entry[udpRoute]
		quic := false
		for _, rc := range cfg.L4Routes {
			if rc.UDP == nil || len(rc.Listeners) > 0 && !slices.Contains(rc.Listeners, lc.Name) {
				continue
			}
			m, err := l4Match(rc.Match, "udp")
			if err != nil {
				return nil, cfg.Errorf("l4_routes", "route %s: %v", rc.Name, err)
			}
			entries = append(entries, router.Entry[udpRoute]{Name: rc.Name, Match: m,
				Value: udpRoute{cluster: clusters[rc.UDP.Upstream], idle: rc.IdleTimeout.D()}})
			quic = quic || len(m.SNI) > 0 || len(m.ALPN) > 0
		}
		t, err := router.Compile(entries)
		if err != nil {
			return nil, cfg.Errorf("l4_routes", "%v", err)
		}
		tables[lc.Name] = &udpRoutes{table: t, quic: quic}
	}
	return tables, nil
}

// applyUDP binds the UDP sockets new listeners need, gives every UDP port
// its routes, and stops the ports no listener has any more.
func (a *App) applyUDP(cfg *configs.Config, g *generation) error {
	tables, err := udpTables(cfg, g.clusters)
	if err != nil {
		return err
	}
	next := map[string]*udpPort{}
	swap := map[*udpPort]*udpRoutes{}
	for _, lc := range cfg.Listeners {
		t, ok := tables[lc.Name]
		if !ok {
			continue
		}
		key := udpKey(lc)
		u := a.udp[lc.Name]
		if u == nil || u.key != key {
			if u, err = startUDP(lc.Address, key, udpproxy.Options{MaxSessions: lc.L4.UDPSessions, MaxSessionsPerClient: lc.L4.MaxPerIP}); err != nil {
				for name, n := range next {
					if a.udp[name] != n {
						n.stop()
					}
				}
				return fmt.Errorf("listener %s: udp: %w", lc.Name, err)
			}
		}
		next[lc.Name] = u
		swap[u] = t
	}
	for u, t := range swap { // only once every port is bound: a failed reload changes no routes
		u.routes.Store(t)
	}
	for name, u := range a.udp {
		if next[name] != u {
			u.stop()
		}
	}
	a.udpMu.Lock()
	a.udp = next
	a.udpMu.Unlock()
	return nil
}

func startUDP(addr, key string, o udpproxy.Options) (*udpPort, error) {
	conn, err := listener.ListenUDP(addr)
	if err != nil {
		return nil, err
	}
	u := &udpPort{key: key, addr: conn.LocalAddr().String(), done: make(chan struct{})}
	if a, ok := conn.LocalAddr().(*net.UDPAddr); ok {
		u.port = uint16(a.Port)
	}
	u.routes.Store(&udpRoutes{table: &router.Table[udpRoute]{}})
	u.proxy = udpproxy.New(conn, u.pick, o)
	ctx, cancel := context.WithCancel(context.Background())
	u.cancel = cancel
	go func() {
		defer close(u.done)
		_ = u.proxy.Serve(ctx)
		_ = conn.Close()
	}()
	return u, nil
}

// stop ends the proxy and its sessions and closes the socket.
func (u *udpPort) stop() {
	u.cancel()
	<-u.done
}
