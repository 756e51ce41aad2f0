package listener

import (
	"context"
	"errors"
	"net"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// reusePort sets SO_REUSEPORT, so a new server can bind an address an
// old one still holds while it drains.
//
// Accepted connections get TCP keep-alive probes after 15 s of silence, to
// find peers that vanished in the middle of a request without a timeout
// (a streamed body with read_timeout 0). Only SO_KEEPALIVE and the idle
// time are set; the probe interval and count stay the system's, which
// saves two of Go's four setsockopt calls on every new connection.
var reusePort = net.ListenConfig{
	KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: 15 * time.Second, Interval: -1, Count: -1},
	Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		})
		return errors.Join(err, serr)
	},
}

// ListenTCP binds a TCP address with SO_REUSEPORT. Without keepAlive,
// accepted connections get no keep-alive probes: for listeners of TCP
// routes only, whose idle timeout ends silent connections; it saves two
// setsockopt calls on every connection.
func ListenTCP(addr string, keepAlive bool) (net.Listener, error) {
	lc := reusePort
	if !keepAlive {
		lc.KeepAlive, lc.KeepAliveConfig = -1, net.KeepAliveConfig{}
	}
	return lc.Listen(context.Background(), "tcp", addr)
}

// ListenUDP binds a UDP address with SO_REUSEPORT (the QUIC side of a
// listener, next to its TCP socket).
func ListenUDP(addr string) (net.PacketConn, error) {
	return reusePort.ListenPacket(context.Background(), "udp", addr)
}
