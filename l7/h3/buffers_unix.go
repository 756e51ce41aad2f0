//go:build unix

package h3

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
)

// socketBuffers reads SO_RCVBUF and SO_SNDBUF of conn's socket.
func socketBuffers(conn net.PacketConn) (rcv, snd int, err error) {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return 0, 0, errors.New("not a UDP socket: buffer sizes unknown")
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return 0, 0, fmt.Errorf("socket buffers: %w", err)
	}
	var gerr error
	cerr := raw.Control(func(fd uintptr) {
		rcv, gerr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF)
		if gerr == nil {
			snd, gerr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF)
		}
	})
	if err := errors.Join(cerr, gerr); err != nil {
		return 0, 0, fmt.Errorf("socket buffers: %w", err)
	}
	return rcv, snd, nil
}

// quicBufferWarningEnv silences quic-go's own buffer warning, printed
// with the standard log package; Serve reports the condition through
// slog instead, once per socket, so it appears once and in the same
// format as the rest of the logs. An operator's explicit setting stands.
const quicBufferWarningEnv = "QUIC_GO_DISABLE_RECEIVE_BUFFER_WARNING"

// quietQUICBufferWarning sets quicBufferWarningEnv unless it is set.
func quietQUICBufferWarning() {
	if _, ok := os.LookupEnv(quicBufferWarningEnv); !ok {
		_ = os.Setenv(quicBufferWarningEnv, "1")
	}
}
