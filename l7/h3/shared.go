package h3

import (
	"errors"
	"net"
	"net/http"
	"sync/atomic"

	"github.com/quic-go/quic-go"
)

// Shared is a UDP socket and its QUIC transport that the servers of one
// address take over in turn. A server that replaces another (a reload
// changed the listener) listens on the same socket as soon as the other
// stops accepting, while the other's connections finish on it: with two
// sockets bound to one port, the kernel would split the packets of every
// connection between them.
//
// One server listens at a time; Close ends the socket and every
// connection on it, so the owner calls it once no server uses it.
type Shared struct {
	conn net.PacketConn
	tr   *quic.Transport
	slot chan struct{} // holds a token while no server listens
	gate atomic.Pointer[retryGate]
}

// NewShared takes over conn, a UDP socket.
func NewShared(conn net.PacketConn) *Shared {
	sh := &Shared{conn: conn, slot: make(chan struct{}, 1)}
	sh.tr = &quic.Transport{Conn: conn, VerifySourceAddress: sh.verify}
	sh.slot <- struct{}{}
	return sh
}

// verify applies the Retry policy of the server listening now.
func (sh *Shared) verify(a net.Addr) bool {
	if g := sh.gate.Load(); g != nil {
		return g.verify(a)
	}
	return false
}

// LocalAddr is the socket's address.
func (sh *Shared) LocalAddr() net.Addr { return sh.conn.LocalAddr() }

// Close closes the transport and the socket.
func (sh *Shared) Close() error {
	return errors.Join(sh.tr.Close(), sh.conn.Close())
}

// ServeShared is Serve on a socket other servers take turns on: it waits
// until no other server listens on sh (or until Shutdown or Close), then
// accepts until Shutdown or Close, and gives sh back for the next server.
// It neither closes sh nor ends the connections on it once it returns:
// those it accepted end with Shutdown or Close.
func (s *Server) ServeShared(sh *Shared) error {
	quietQUICBufferWarning()
	select {
	case <-sh.slot:
	case <-s.closed:
		return http.ErrServerClosed
	}
	defer func() { sh.slot <- struct{}{} }()
	sh.gate.Store(s.gate)
	ln, err := s.listen(sh.tr)
	if err != nil {
		if s.isClosing() {
			return http.ErrServerClosed
		}
		return err
	}
	err = s.serveListener(ln, sh.conn)
	if errors.Is(err, http.ErrServerClosed) {
		return http.ErrServerClosed
	}
	return err
}
