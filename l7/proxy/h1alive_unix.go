//go:build unix

package proxy

import (
	"crypto/tls"
	"net"
	"syscall"

	"github.com/bouncer-proxy/bouncer/listener"
)

// aliveProbe returns a check that an idle connection is still open and
// quiet: one non-blocking peek at the socket, which must have nothing to
// read. An upstream that closed the connection (EOF), reset it, or sent
// bytes nobody asked for fails the probe, so the connection is dropped
// before a request is written to it. nil when nc has no socket to peek at.
func aliveProbe(nc net.Conn) func() bool {
	for {
		switch c := nc.(type) {
		case *listener.ReleaseConn:
			nc = c.Conn
			continue
		case *tls.Conn:
			nc = c.NetConn()
			continue
		}
		break
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	var buf [1]byte
	var peekErr error
	peek := func(fd uintptr) bool {
		_, _, peekErr = syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return true
	}
	return func() bool {
		if err := rc.Read(peek); err != nil {
			return false
		}
		return peekErr == syscall.EAGAIN || peekErr == syscall.EWOULDBLOCK
	}
}
