package udpproxy

import (
	"errors"
	"net"
	"net/netip"
	"sync/atomic"
	"time"
)

// session is one client's flow: its connected upstream socket and the time
// of its latest datagram either way.
type session struct {
	client     netip.AddrPort
	clientAddr *net.UDPAddr // client, for a PacketConn that is not a *net.UDPConn
	from       []byte       // control message setting the replies' source address (nil: the kernel's choice)
	up         *net.UDPConn
	idle       time.Duration // the session ends after this long without a datagram
	last       atomic.Int64  // unix nanoseconds
}

func (s *session) touch() { s.last.Store(time.Now().UnixNano()) }

func (s *session) idleSince() time.Time { return time.Unix(0, s.last.Load()) }

// relayReplies runs on the session's goroutine: it sends the upstream's
// datagrams to the client until the session expires or its socket fails
// (closed by closeAll, or an ICMP error such as port unreachable, which
// ends the session so the client's next datagram picks again).
//
// Expiry needs no timer of its own: the read deadline is the moment the
// session would turn idle, moved on when client traffic touched it.
func (p *Proxy) relayReplies(s *session) {
	buf := make([]byte, p.o.BufferSize)
	for {
		_ = s.up.SetReadDeadline(s.idleSince().Add(s.idle))
		n, err := s.up.Read(buf)
		if err != nil {
			if isTimeout(err) && !p.expire(s) {
				continue
			}
			p.remove(s)
			_ = s.up.Close()
			return
		}
		s.touch()
		if err := p.reply(s, buf[:n]); err != nil {
			p.failed.Add(1)
		}
	}
}

// reply sends b to the session's client from the listening socket.
func (p *Proxy) reply(s *session, b []byte) error {
	if s.from != nil {
		_, _, err := p.udp.WriteMsgUDPAddrPort(b, s.from, s.client)
		return err
	}
	if p.udp != nil {
		_, err := p.udp.WriteToUDPAddrPort(b, s.client)
		return err
	}
	_, err := p.conn.WriteTo(b, s.clientAddr)
	return err
}

// expire removes s if it has been idle for its timeout and reports whether
// it did. Serve looks sessions up and touches them under the same lock, so
// a datagram either finds s and keeps it alive for another IdleTimeout, or
// misses it and opens a new session.
func (p *Proxy) expire(s *session) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(s.idleSince()) < s.idle {
		return false
	}
	p.drop(s)
	return true
}

// remove drops s from the map if it is still there.
func (p *Proxy) remove(s *session) {
	p.mu.Lock()
	p.drop(s)
	p.mu.Unlock()
}

// drop deletes s from the maps if it is still in them. Caller holds mu.
func (p *Proxy) drop(s *session) {
	if p.sessions[s.client] != s {
		return
	}
	delete(p.sessions, s.client)
	if n, ok := p.perIP[s.client.Addr()]; ok {
		if n <= 1 {
			delete(p.perIP, s.client.Addr())
		} else {
			p.perIP[s.client.Addr()] = n - 1
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
