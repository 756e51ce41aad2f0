//go:build !unix

package h3

import (
	"math"
	"net"
)

// quietQUICBufferWarning does nothing here: Serve cannot read the buffer
// sizes on this platform, so quic-go's own warning is the one report.
func quietQUICBufferWarning() {}

// socketBuffers reports sizes that never warn: they cannot be read here.
func socketBuffers(net.PacketConn) (rcv, snd int, err error) {
	return math.MaxInt, math.MaxInt, nil
}
