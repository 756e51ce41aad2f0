package listener

import (
	"context"
	"errors"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// reusePort sets SO_REUSEPORT, so a new server can bind an address an
// old one still holds while it drains.
var reusePort = net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	})
	return errors.Join(err, serr)
}}

// ListenTCP binds a TCP address with SO_REUSEPORT.
func ListenTCP(addr string) (net.Listener, error) {
	return reusePort.Listen(context.Background(), "tcp", addr)
}

// ListenUDP binds a UDP address with SO_REUSEPORT (the QUIC side of a
// listener, next to its TCP socket).
func ListenUDP(addr string) (net.PacketConn, error) {
	return reusePort.ListenPacket(context.Background(), "udp", addr)
}
