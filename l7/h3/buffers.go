package h3

import "net"

// quicBufferSize is the socket buffer size quic-go asks for (7 MiB), and
// the size below which Serve warns. On Linux getsockopt reports twice
// the size set, and quic-go compares that report with this value too.
const quicBufferSize = 7 << 20

// checkBuffers logs one warning when conn's receive or send buffer is
// smaller than s.bufWant after quic-go tried to raise both: under load
// the kernel then drops datagrams and throughput falls.
func (s *Server) checkBuffers(conn net.PacketConn) {
	rcv, snd, err := socketBuffers(conn)
	if err != nil {
		s.log.Warn("h3: UDP socket buffers could not be raised; throughput may suffer",
			"addr", conn.LocalAddr().String(), "error", err)
		return
	}
	if rcv >= s.bufWant && snd >= s.bufWant {
		return
	}
	s.log.Warn("h3: UDP socket buffers could not be raised; throughput may suffer",
		"addr", conn.LocalAddr().String(),
		"receive_kib", rcv/1024, "send_kib", snd/1024, "wanted_kib", s.bufWant/1024,
		"fix", "raise sysctl net.core.rmem_max and net.core.wmem_max")
}
