// Package udpproxy relays UDP datagrams between clients and upstreams with
// one session per client address.
package udpproxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for Options fields left zero.
const (
	DefaultIdleTimeout = 30 * time.Second
	DefaultBufferSize  = 64 << 10 // holds the largest UDP payload (65,507 bytes over IPv4)
)

// Options tune a Proxy.
type Options struct {
	// IdleTimeout ends a session after this long without a datagram either
	// way, unless Pick gives the session its own (default 30 s).
	IdleTimeout time.Duration
	// MaxSessions caps the live sessions; datagrams from new clients over
	// the cap are dropped and counted (0: no cap).
	MaxSessions int
	// MaxSessionsPerClient caps the live sessions of one client address
	// (all its ports together), so that one host cannot take every session
	// by changing its source port; datagrams over it are dropped and
	// counted with OverCap (0: no cap).
	MaxSessionsPerClient int
	// BufferSize is the largest datagram relayed; longer ones are truncated
	// by the kernel (default 64 KiB). Each session holds one such buffer.
	BufferSize int
}

// Pick chooses the upstream address ("host:port", best an IP literal: a
// name is resolved on the Serve goroutine) for a new session. It is the
// caller's balancer; it must not block. client is the datagram's source
// with any IPv4-in-IPv6 mapping removed; first holds the client's
// datagrams so far (one, unless Pick asked for more), for routers that
// read them, such as QUIC routing by SNI. Pick returns ErrWait to see the
// client's next datagram before deciding: the datagrams are kept (at most
// MaxPending per client, for PendingTimeout) and all relayed once the
// session opens. Pick must not keep first.
// A zero idle takes Options.IdleTimeout for the session.
type Pick func(client netip.AddrPort, first [][]byte) (upstream string, idle time.Duration, err error)

// ErrWait is Pick's answer when it needs the client's next datagram.
var ErrWait = errors.New("udpproxy: need the next datagram to choose")

// Bounds of the datagrams held while Pick waits for more.
const (
	MaxPending        = 4               // datagrams per client
	MaxPendingClients = 1024            // clients at once; the oldest is dropped beyond
	MaxPendingBytes   = 4 << 20         // bytes held for all clients; the oldest are dropped beyond
	PendingTimeout    = 2 * time.Second // a client that sends nothing more is forgotten
)

// Stats counts what a Proxy did.
type Stats struct {
	Sessions int   // live now
	Opened   int64 // sessions opened since New
	OverCap  int64 // datagrams dropped because MaxSessions or MaxSessionsPerClient was reached
	Failed   int64 // datagrams lost to a failed pick, dial or write
}

// Proxy relays datagrams arriving on one socket. A client's first datagram
// opens a session: a UDP socket connected to the upstream Pick chose. The
// client's datagrams go out on it, and the upstream's replies come back on
// it and are sent to the client from the listening socket, so the client
// sees replies from the address it sent to (on Linux even when the socket
// is bound to a wildcard address on a host with several: the session
// sends from the destination address of the client's first datagram).
type Proxy struct {
	conn   net.PacketConn
	udp    *net.UDPConn // conn, when it is one: reads and writes without allocations
	oob    []byte       // control messages of a read, when dstInfo (Serve's goroutine only)
	pick   Pick
	o      Options
	dialer net.Dialer

	mu       sync.Mutex
	sessions map[netip.AddrPort]*session
	perIP    map[netip.Addr]int // live sessions by client address, with MaxSessionsPerClient
	wg       sync.WaitGroup     // reply goroutines

	pending      map[netip.AddrPort]*held // only Serve's goroutine uses it, and pendingBytes
	pendingBytes int                      // bytes held in pending

	opened, overCap, failed atomic.Int64
}

// New returns a Proxy reading conn. The caller keeps ownership of conn:
// the Proxy never closes it. On Linux, when conn is a *net.UDPConn bound
// to a wildcard address, New turns on its destination-address reports
// (IP_PKTINFO, IPV6_RECVPKTINFO) so that replies leave from the address
// each client wrote to.
func New(conn net.PacketConn, pick Pick, o Options) *Proxy {
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.BufferSize <= 0 {
		o.BufferSize = DefaultBufferSize
	}
	p := &Proxy{conn: conn, pick: pick, o: o, sessions: make(map[netip.AddrPort]*session), perIP: map[netip.Addr]int{}, pending: map[netip.AddrPort]*held{}}
	p.udp, _ = conn.(*net.UDPConn)
	if p.udp != nil && enableDstInfo(p.udp) {
		p.oob = make([]byte, oobSize)
	}
	return p
}

// Serve relays datagrams until ctx ends (it returns nil) or reading conn
// fails, for instance because it was closed (it returns that error). It
// blocks, and is called once. Before returning it ends every session and
// waits for their goroutines. To stop, it sets a past read deadline on conn.
func (p *Proxy) Serve(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { _ = p.conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	defer p.closeAll()
	buf := make([]byte, p.o.BufferSize)
	for {
		n, client, to, err := p.read(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("udpproxy: read: %w", err)
		}
		if !client.IsValid() {
			p.failed.Add(1)
			continue
		}
		s := p.session(ctx, client, to, buf[:n])
		if s == nil {
			continue
		}
		if _, err := s.up.Write(buf[:n]); err != nil {
			p.failed.Add(1)
		}
	}
}

// Sessions returns the number of live sessions.
func (p *Proxy) Sessions() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.sessions)
}

// Stats returns the counters; safe from any goroutine.
func (p *Proxy) Stats() Stats {
	return Stats{
		Sessions: p.Sessions(),
		Opened:   p.opened.Load(),
		OverCap:  p.overCap.Load(),
		Failed:   p.failed.Load(),
	}
}

// local is the address a datagram was sent to, when the socket reports it.
type local struct {
	addr    netip.Addr
	ifindex uint32
}

// read returns one datagram, its source and, on a wildcard-bound socket,
// its destination; an invalid source means an address this package cannot
// reply to.
func (p *Proxy) read(buf []byte) (int, netip.AddrPort, local, error) {
	if p.oob != nil {
		n, oobn, _, from, err := p.udp.ReadMsgUDPAddrPort(buf, p.oob)
		var to local
		if err == nil {
			to.addr, to.ifindex = dstOf(p.oob[:oobn])
		}
		return n, from, to, err
	}
	if p.udp != nil {
		n, from, err := p.udp.ReadFromUDPAddrPort(buf)
		return n, from, local{}, err
	}
	n, addr, err := p.conn.ReadFrom(buf)
	if err != nil {
		return n, netip.AddrPort{}, local{}, err
	}
	if ua, ok := addr.(*net.UDPAddr); ok {
		return n, ua.AddrPort(), local{}, nil
	}
	ap, _ := netip.ParseAddrPort(addr.String())
	return n, ap, local{}, nil
}

// session returns client's session, opening one if needed, or nil when the
// datagram is to be dropped. Only Serve's goroutine opens sessions, so the
// cap checked under the lock still holds when the new one is added.
func (p *Proxy) session(ctx context.Context, client netip.AddrPort, to local, d []byte) *session {
	p.mu.Lock()
	s, ok := p.sessions[client]
	if ok {
		s.touch() // under mu: see expire
	}
	full := (p.o.MaxSessions > 0 && len(p.sessions) >= p.o.MaxSessions) ||
		(p.o.MaxSessionsPerClient > 0 && p.perIP[client.Addr()] >= p.o.MaxSessionsPerClient)
	p.mu.Unlock()
	switch {
	case ok:
		return s
	case full:
		p.overCap.Add(1)
		return nil
	}
	grams, earlier, since := p.held(client, d)
	s, err := p.open(ctx, client, to, grams)
	switch {
	case errors.Is(err, ErrWait):
		p.hold(client, grams, since)
		return nil
	case err != nil:
		p.failed.Add(int64(1 + earlier))
		return nil
	}
	for _, g := range grams[:earlier] {
		if _, err := s.up.Write(g); err != nil {
			p.failed.Add(1)
		}
	}
	p.mu.Lock()
	p.sessions[client] = s
	if p.o.MaxSessionsPerClient > 0 {
		p.perIP[client.Addr()]++
	}
	p.mu.Unlock()
	p.opened.Add(1)
	p.wg.Go(func() { p.relayReplies(s) })
	return s
}

// open picks an upstream for client and connects a socket to it.
func (p *Proxy) open(ctx context.Context, client netip.AddrPort, to local, grams [][]byte) (*session, error) {
	upstream, idle, err := p.pick(netip.AddrPortFrom(client.Addr().Unmap(), client.Port()), grams)
	if err != nil {
		return nil, fmt.Errorf("udpproxy: pick for %s: %w", client, err)
	}
	c, err := p.dialer.DialContext(ctx, "udp", upstream)
	if err != nil {
		return nil, fmt.Errorf("udpproxy: dial %s: %w", upstream, err)
	}
	up, ok := c.(*net.UDPConn)
	if !ok {
		_ = c.Close()
		return nil, errNotUDP
	}
	if idle <= 0 {
		idle = p.o.IdleTimeout
	}
	s := &session{client: client, clientAddr: net.UDPAddrFromAddrPort(client), from: srcControl(to.addr, to.ifindex), up: up, idle: idle}
	s.touch()
	return s, nil
}

var errNotUDP = errors.New("udpproxy: dial did not return a UDP socket")

// closeAll ends every session and waits for their goroutines.
func (p *Proxy) closeAll() {
	p.mu.Lock()
	all := p.sessions
	p.sessions = make(map[netip.AddrPort]*session)
	clear(p.perIP)
	p.mu.Unlock()
	for _, s := range all {
		_ = s.up.Close()
	}
	p.wg.Wait()
}
