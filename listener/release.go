package listener

import (
	"net"
	"sync"
)

// ReleaseConn is a connection holding a slot under some cap (connections
// of a listener, of a client address, of an upstream): the first Close
// gives the slot back. It passes TCP and CloseWrite through, so an L4
// pipe can still splice and half-close the socket underneath.
type ReleaseConn struct {
	net.Conn
	once    sync.Once
	release func()
}

// OnClose wraps c so that release runs once, at its first Close.
func OnClose(c net.Conn, release func()) *ReleaseConn {
	return &ReleaseConn{Conn: c, release: release}
}

// Close releases the slot (once) and closes the connection.
func (c *ReleaseConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}

// TCP is the TCP socket underneath, or nil.
func (c *ReleaseConn) TCP() *net.TCPConn {
	switch v := c.Conn.(type) {
	case *net.TCPConn:
		return v
	case interface{ TCP() *net.TCPConn }:
		return v.TCP()
	}
	return nil
}

// CloseWrite half-closes the connection underneath, when it can.
func (c *ReleaseConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
