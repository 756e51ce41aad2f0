package listener

import (
	"net"
	"sync"
)

// connListener is the net.Listener behind Server.HTTP1Listener: the accept
// loop pushes connections in, an http.Server pulls them out.
type connListener struct {
	addr net.Addr
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

var _ net.Listener = (*connListener)(nil)

func newConnListener(addr net.Addr) *connListener {
	return &connListener{addr: addr, ch: make(chan net.Conn), done: make(chan struct{})}
}

// Accept blocks until a connection is delivered or the listener is closed
// (then it returns an error wrapping net.ErrClosed).
func (l *connListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, &net.OpError{Op: "accept", Net: l.addr.Network(), Addr: l.addr, Err: net.ErrClosed}
	}
}

// Close stops Accept; the socket is owned by Server and stays open.
func (l *connListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Addr returns the socket's address.
func (l *connListener) Addr() net.Addr { return l.addr }

// deliver blocks until Accept takes c; if the listener closes first, or the
// socket under c (signalled by gone) is closed, c is closed instead.
func (l *connListener) deliver(c net.Conn, gone <-chan struct{}) {
	select {
	case l.ch <- c:
	case <-l.done:
		_ = c.Close()
	case <-gone:
		_ = c.Close()
	}
}
