package tcpproxy

import (
	"net"

	"golang.org/x/sys/unix"
)

// tcpStateClose is TCP_CLOSE from the kernel's include/net/tcp_states.h.
const tcpStateClose = 7

// tcpClosed reports whether the kernel has moved c to TCP_CLOSE, which for
// a socket we have not closed means it was reset (or both FINs exchanged).
func tcpClosed(c *net.TCPConn) bool {
	rc, err := c.SyscallConn()
	if err != nil {
		return false
	}
	closed := false
	_ = rc.Control(func(fd uintptr) {
		info, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
		closed = err == nil && info.State == tcpStateClose
	})
	return closed
}
