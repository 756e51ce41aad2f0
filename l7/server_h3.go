package l7

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"

	"github.com/bouncer-proxy/bouncer/l7/h3"
	"github.com/bouncer-proxy/bouncer/listener"
)

// setupH3 opens the UDP socket of the listener's address and prepares the
// HTTP/3 server on it. h1 and h2 responses then advertise it (Alt-Svc),
// and an upstream's own Alt-Svc is removed on every protocol.
func (s *Server) setupH3(addr net.Addr, tc *tls.Config, h http.Handler) error {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return fmt.Errorf("l7: listener %s: h3 needs a TCP address, not %v", s.Name, addr)
	}
	udp, err := listener.ListenUDP(tcp.String())
	if err != nil {
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
		_ = udp.Close()
		return fmt.Errorf("l7: listener %s: %w", s.Name, err)
	}
	adv = h3.AdvertiseAltSvc(h, srv.AltSvc)
	s.h1.Handler, s.h2.Handler = adv, adv
	s.h3, s.udp = srv, udp
	return nil
}
