package main

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"

	"github.com/bouncer-proxy/bouncer/l4"
	"github.com/bouncer-proxy/bouncer/l4/peek"
	"github.com/bouncer-proxy/bouncer/l4/router"
	"github.com/bouncer-proxy/bouncer/l7"
	"github.com/bouncer-proxy/bouncer/listener"
)

// portL4 is the TCP-routing side of a port: its state, the server of its
// routed connections, and their tracking for drains.
type portL4 struct {
	open   connGate // the listener's limits.max_connections, for every connection of a tcp listener
	srv    *l4.Server
	ctx    context.Context // cancelled when the port's routed connections must end
	cancel context.CancelFunc

	mu       sync.Mutex
	n        int           // routed connections being served
	draining bool          // no new ones
	idle     chan struct{} // closed when n drops to 0 while draining
}

// begin counts a routed connection, unless the port is draining.
func (l *portL4) begin() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.draining {
		return false
	}
	l.n++
	return true
}

func (l *portL4) end() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n--
	if l.n == 0 && l.idle != nil {
		close(l.idle)
		l.idle = nil
	}
}

// connGate counts connections against a cap; max 0 means no cap (and no
// counting). Safe for concurrent use.
type connGate struct {
	max atomic.Int64
	n   atomic.Int64
}

// admit wraps c so that closing it frees its place, or reports false when
// the cap is reached (c is then not counted).
func (g *connGate) admit(c net.Conn) (net.Conn, bool) {
	max := g.max.Load()
	if max <= 0 {
		return c, true
	}
	if g.n.Add(1) > max {
		g.n.Add(-1)
		return c, false
	}
	return listener.OnClose(c, func() { g.n.Add(-1) }), true
}

// inspect routes one connection of a port whose listener has tcp: the
// listener's and per-client limits, one peek, then an L4 route or the
// HTTP server.
func (p *port) inspect(st *l4State, c net.Conn) {
	c, ok := p.l4.open.admit(c)
	if !ok {
		p.refuse(st.listener, c, "listener_max_connections")
		return
	}
	client, local := addrPort(c.RemoteAddr()), addrPort(c.LocalAddr())
	if st.limiter != nil {
		if reason, ok := st.limiter.Acquire(client.Addr()); !ok {
			p.refuse(st.listener, c, string(reason))
			return
		}
		c = listener.OnClose(c, func() { st.limiter.Release(client.Addr()) })
	}
	var hello peek.Hello
	var peeked []byte
	if st.peek {
		var err error
		hello, peeked, err = peek.Peek(c, st.opts)
		if err != nil && !errors.Is(err, peek.ErrMalformed) {
			p.refuse(st.listener, c, peekReason(err))
			return
		}
	}
	isHTTP := hello.Proto == peek.HTTP1 || hello.Proto == peek.H2C
	acme := hello.Proto == peek.TLS && l7.IsACMEChallenge(hello.ALPN)
	if st.http && isHTTP || acme && st.tls {
		p.deliver(peek.NewConn(c, peeked))
		return
	}
	rc := router.Conn{TLS: hello.Proto == peek.TLS, SNI: hello.SNI, ALPN: hello.ALPN, Port: local.Port(), Client: client.Addr()}
	if rt, ok := st.table.Match(&rc); ok {
		if !p.l4.begin() {
			p.refuse(st.listener, c, "shutdown")
			return
		}
		defer p.l4.end()
		p.l4.srv.Serve(p.l4.ctx, rt.Value, &l4.Conn{Listener: st.listener, Raw: c, Hello: hello, Peeked: peeked, Client: client, Local: local})
		return
	}
	if st.http && hello.Proto == peek.TLS {
		p.deliver(peek.NewConn(c, peeked)) // HTTPS on the listener's certificates
		return
	}
	p.refuse(st.listener, c, "no_route")
}

func peekReason(err error) string {
	switch {
	case errors.Is(err, peek.ErrTimeout):
		return "peek_timeout"
	case errors.Is(err, peek.ErrTooLarge):
		return "peek_too_large"
	default:
		return "peek_incomplete"
	}
}

// refuse closes a connection that is not served, and counts why.
func (p *port) refuse(listener string, c net.Conn, reason string) {
	if m := p.l4.srv.Metrics; m != nil {
		m.Refused.WithLabelValues(listener, reason).Inc()
	}
	_ = c.Close()
}

// drainL4 waits for routed connections to end until ctx is done, then
// ends the rest.
func (p *port) drainL4(ctx context.Context) {
	l := &p.l4
	l.mu.Lock()
	l.draining = true
	if l.n == 0 {
		l.mu.Unlock()
		return
	}
	idle := make(chan struct{})
	l.idle = idle
	l.mu.Unlock()
	select {
	case <-idle:
	case <-ctx.Done():
		l.cancel() // Serve closes both sides and returns
		<-idle
	}
}
