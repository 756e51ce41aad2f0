package main

import (
	"context"
	"sync/atomic"

	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/bouncer-proxy/bouncer/l4"
)

// port is one bound socket, kept across reloads for as long as a listener
// of the same name and address exists. A single accept loop hands its
// connections to whichever server currently owns it, so a listener whose
// settings change is replaced by a new server without a moment in which
// connections are refused or reset.
type port struct {
	ln   net.Listener
	log  *slog.Logger
	mu   sync.Mutex
	cur  *handoff
	done chan struct{}
	once sync.Once

	state atomic.Pointer[l4State] // nil: every connection goes to the HTTP server
	l4    portL4
	all   *connGate              // server.max_connections, shared by every port
	name  atomic.Pointer[string] // the listener's name, for metrics
}

func newPort(ln net.Listener, log *slog.Logger, srv *l4.Server, all *connGate, name string) *port {
	p := &port{ln: ln, log: log, done: make(chan struct{}), all: all}
	p.name.Store(&name)
	p.l4.srv = srv
	p.l4.ctx, p.l4.cancel = context.WithCancel(context.Background())
	go p.acceptLoop()
	return p
}

// newHandoff makes a listener for a server that will own this port once
// attach is called.
func (p *port) newHandoff() *handoff {
	return &handoff{addr: p.ln.Addr(), ch: make(chan net.Conn), done: make(chan struct{})}
}

// attach makes h the owner of the port's connections. The previous owner
// gets no more; it is closed by its server's shutdown.
func (p *port) attach(h *handoff) {
	p.mu.Lock()
	p.cur = h
	p.mu.Unlock()
}

func (p *port) owner() *handoff {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cur
}

// Close closes the socket; connections already handed over are untouched.
func (p *port) Close() {
	p.once.Do(func() {
		close(p.done)
		_ = p.ln.Close()
	})
}

func (p *port) acceptLoop() {
	var delay time.Duration
	for {
		c, err := p.ln.Accept()
		if err != nil {
			select {
			case <-p.done:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && !ne.Timeout() && errors.Is(err, net.ErrClosed) {
				return
			}
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			p.log.Warn("accept failed; retrying", "address", p.ln.Addr().String(), "error", err.Error(), "delay", delay)
			select {
			case <-time.After(delay):
			case <-p.done:
				return
			}
			continue
		}
		delay = 0
		c, ok := p.all.admit(c)
		if !ok {
			p.refuse(*p.name.Load(), c, "server_max_connections")
			continue
		}
		if st := p.state.Load(); st != nil {
			go p.inspect(st, c) // the peek may wait: never in the accept loop
			continue
		}
		p.deliver(c)
	}
}

// deliver hands c to the current owner, following the ownership to a new
// server if the current one closes while c waits.
func (p *port) deliver(c net.Conn) {
	for {
		h := p.owner()
		if h == nil {
			_ = c.Close()
			return
		}
		select {
		case h.ch <- c:
			return
		case <-h.done:
			if p.owner() == h { // closed and not replaced: nobody serves this port
				_ = c.Close()
				return
			}
		case <-p.done:
			_ = c.Close()
			return
		}
	}
}

// handoff is the net.Listener one server accepts from. Closing it ends
// that server's share of the port, not the socket.
type handoff struct {
	addr net.Addr
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func (h *handoff) Accept() (net.Conn, error) {
	select {
	case c := <-h.ch:
		return c, nil
	case <-h.done:
		return nil, net.ErrClosed
	}
}

func (h *handoff) Close() error {
	h.once.Do(func() { close(h.done) })
	return nil
}

func (h *handoff) Addr() net.Addr { return h.addr }
