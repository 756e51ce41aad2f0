package tcpproxy

import (
	"crypto/tls"
	"errors"
	"net"
)

// TCPConner is implemented by connection wrappers (PROXY protocol, byte
// accounting, drain tracking) that sit over a plain TCP socket and may let
// Pipe bypass them. TCP returns the socket, or nil to refuse. A wrapper that
// still holds bytes read from the socket must not return it (or must hand
// those bytes to Pipe as the prefix): Pipe reads the socket directly.
type TCPConner interface {
	TCP() *net.TCPConn
}

// closeWriter is the half-close of *net.TCPConn, *tls.Conn and wrappers.
type closeWriter interface {
	CloseWrite() error
}

var errNoHalfClose = errors.New("tcpproxy: connection cannot half-close")

// unwrapTCP returns the TCP socket under c, or nil.
func unwrapTCP(c net.Conn) *net.TCPConn {
	switch v := c.(type) {
	case *net.TCPConn:
		return v
	case TCPConner:
		return v.TCP()
	}
	return nil
}

// closeWrite shuts the write half of c: through c itself when it can,
// otherwise through the TCP socket it unwraps to. A TLS connection sends
// its close_notify and then a FIN on the connection under it (crypto/tls
// stops at the alert), so that the peer sees the half-close in TCP too.
func closeWrite(c net.Conn) error {
	if t, ok := c.(*tls.Conn); ok {
		if err := t.CloseWrite(); err != nil {
			return err
		}
		_ = closeWrite(t.NetConn()) // best effort: the alert already ends the stream for TLS
		return nil
	}
	if cw, ok := c.(closeWriter); ok {
		return cw.CloseWrite()
	}
	if tc := unwrapTCP(c); tc != nil {
		return tc.CloseWrite()
	}
	return errNoHalfClose
}
