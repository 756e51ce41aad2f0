package h3

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/quic-go/quic-go/quicvarint"
)

// relay forwards UDP datagrams between one client and the server, and
// sees QUIC version 1 long headers on the way: it counts Retry packets
// from the server and, while hold is set, keeps back the client's
// datagrams carrying Handshake packets (the client's Finished), so that a
// request sent in 0-RTT reaches the server before its handshake completes.
type relay struct {
	front, back *net.UDPConn // client side; server side
	retries     atomic.Int64
	hold        atomic.Bool

	mu     sync.Mutex
	client *net.UDPAddr
	held   [][]byte
}

// newRelay relays to server until the test ends.
func newRelay(t testing.TB, server *net.UDPAddr) *relay {
	t.Helper()
	front, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	back, err := net.DialUDP("udp", nil, server)
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{front: front, back: back}
	go r.up()
	go r.down()
	t.Cleanup(func() { _ = front.Close(); _ = back.Close() })
	return r
}

// Addr is where clients connect.
func (r *relay) Addr() net.Addr { return r.front.LocalAddr() }

// release sends the held datagrams and stops holding.
func (r *relay) release() {
	r.hold.Store(false)
	r.mu.Lock()
	held := r.held
	r.held = nil
	r.mu.Unlock()
	for _, b := range held {
		_, _ = r.back.Write(b)
	}
}

// up carries client datagrams to the server.
func (r *relay) up() {
	buf := make([]byte, 65536)
	for {
		n, from, err := r.front.ReadFromUDP(buf)
		if err != nil {
			return
		}
		b := append([]byte(nil), buf[:n]...)
		r.mu.Lock()
		r.client = from
		if r.hold.Load() && hasPacketType(b, typeHandshake) {
			r.held = append(r.held, b)
			r.mu.Unlock()
			continue
		}
		r.mu.Unlock()
		_, _ = r.back.Write(b)
	}
}

// down carries server datagrams to the client.
func (r *relay) down() {
	buf := make([]byte, 65536)
	for {
		n, err := r.back.Read(buf)
		if err != nil {
			return
		}
		if hasPacketType(buf[:n], typeRetry) {
			r.retries.Add(1)
		}
		r.mu.Lock()
		to := r.client
		r.mu.Unlock()
		if to != nil {
			_, _ = r.front.WriteToUDP(buf[:n], to)
		}
	}
}

// Long header packet types of QUIC version 1 (RFC 9000 section 17.2).
const (
	typeInitial   = 0
	typeHandshake = 2
	typeRetry     = 3
)

// hasPacketType reports whether a datagram holds a long header packet of
// type typ, walking coalesced packets (RFC 9000 section 12.2).
func hasPacketType(b []byte, typ byte) bool {
	for len(b) > 7 && b[0]&0x80 != 0 {
		t := b[0] >> 4 & 3
		if t == typ {
			return true
		}
		if t == typeRetry {
			return false // a Retry fills the datagram
		}
		p := 5
		p += 1 + int(b[p]) // destination connection ID
		if p >= len(b) {
			return false
		}
		p += 1 + int(b[p]) // source connection ID
		if p >= len(b) {
			return false
		}
		if t == typeInitial {
			tl, n, err := quicvarint.Parse(b[p:])
			if err != nil {
				return false
			}
			p += n + int(tl)
		}
		if p >= len(b) {
			return false
		}
		l, n, err := quicvarint.Parse(b[p:])
		if err != nil || uint64(len(b)-p-n) < l {
			return false
		}
		b = b[p+n+int(l):]
	}
	return false
}
