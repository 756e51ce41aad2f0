package l7

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"sync"

	"github.com/bouncer-proxy/bouncer/l7/h3"
	"github.com/bouncer-proxy/bouncer/listener"
)

// setupH3 opens the UDP socket of the listener's address and prepares the
// HTTP/3 server on it. h1 and h2 responses then advertise it (Alt-Svc),
// and an upstream's own Alt-Svc is removed on every protocol.
func (s *Server) setupH3(addr net.Addr, tc *tls.Config, h http.Handler) (err error) {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return fmt.Errorf("l7: listener %s: h3 needs a TCP address, not %v", s.Name, addr)
	}
	if s.udps != nil {
		sh, err := s.udps.acquire(tcp.String())
		if err != nil {
			return fmt.Errorf("l7: listener %s: h3: %w", s.Name, err)
		}
		s.shared = sh
	} else if s.udp, err = listener.ListenUDP(tcp.String()); err != nil {
		return fmt.Errorf("l7: listener %s: h3: %w", s.Name, err)
	}
	lim, o := s.cfg.Limits, s.cfg.HTTP3
	var adv http.Handler // h with Alt-Svc handling, for every protocol
	srv, err := h3.New(h3.Options{
		TLS:                tc,
		MaxHeaderBytes:     int(lim.MaxHeaderBytes),
		IdleTimeout:        lim.IdleTimeout.D(),
		MaxIncomingStreams: int64(lim.MaxConcurrentStreams),
		Allow0RTT:          o.Allow0RTT,
		RetryAbove:         o.RetryAbove,
		AltSvcMaxAge:       o.AltSvcAge.D(),
		Logger:             s.log,
		Handler:            http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { adv.ServeHTTP(w, r) }),
		ConnContext:        withConnCert,
	})
	if err != nil {
		s.releaseUDP()
		return fmt.Errorf("l7: listener %s: %w", s.Name, err)
	}
	adv = h3.AdvertiseAltSvc(h, srv.AltSvc)
	s.h1.Handler, s.h2.Handler = adv, adv
	s.h3 = srv
	return nil
}

// serveH3 runs the HTTP/3 server on its socket.
func (s *Server) serveH3() error {
	if s.shared != nil {
		return s.h3.ServeShared(s.shared)
	}
	return s.h3.Serve(s.udp)
}

// releaseUDP closes the server's own UDP socket, or gives back the shared
// one (closed by UDPSockets once no server holds it). Once only.
func (s *Server) releaseUDP() {
	s.udpOnce.Do(func() {
		if s.shared != nil {
			s.udps.release(s.shared)
		} else if s.udp != nil {
			_ = s.udp.Close()
		}
	})
}

// UDPSockets lends the UDP socket of an address to the HTTP/3 servers of
// that address, one after another: the server a reload builds for a
// changed listener takes over the socket (and new connections) while the
// server it replaces finishes its own connections on it. A socket is
// bound when first asked for and closed when its last server has shut
// down. Safe for concurrent use.
type UDPSockets struct {
	mu sync.Mutex
	m  map[string]*udpShare // by address
}

type udpShare struct {
	addr  string
	sh    *h3.Shared
	users int
}

// NewUDPSockets makes an empty set.
func NewUDPSockets() *UDPSockets { return &UDPSockets{m: map[string]*udpShare{}} }

func (u *UDPSockets) acquire(addr string) (*h3.Shared, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if e := u.m[addr]; e != nil {
		e.users++
		return e.sh, nil
	}
	conn, err := listener.ListenUDP(addr)
	if err != nil {
		return nil, err
	}
	e := &udpShare{addr: addr, sh: h3.NewShared(conn), users: 1}
	u.m[addr] = e
	return e.sh, nil
}

func (u *UDPSockets) release(sh *h3.Shared) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for addr, e := range u.m {
		if e.sh != sh {
			continue
		}
		if e.users--; e.users == 0 {
			delete(u.m, addr)
			_ = sh.Close()
		}
		return
	}
}
