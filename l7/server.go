package l7

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"

	"github.com/bouncer-proxy/bouncer/configs"
	"github.com/bouncer-proxy/bouncer/l7/h1"
	"github.com/bouncer-proxy/bouncer/l7/h2"
	"github.com/bouncer-proxy/bouncer/l7/h3"
	"github.com/bouncer-proxy/bouncer/listener"
	"github.com/bouncer-proxy/bouncer/tls/certs"
	"github.com/bouncer-proxy/bouncer/tls/localca"
)

// Server serves one listener: HTTP/1.1 through package h1 behind the strict
// parser of package listener, and h2 / h2c through package h2.
type Server struct {
	Name string
	ls   *listener.Server
	h1   *h1.Server
	h2   *h2.Server
	cfg  configs.Listener
	log  *slog.Logger

	certs     *certs.Store  // nil without TLS
	stopWatch chan struct{} // closed by Shutdown: ends the certificate watch
	stopOnce  sync.Once

	h3      *h3.Server     // nil unless protocols has h3
	udp     net.PacketConn // h3's own socket, on the TCP listener's address (without UDPSockets)
	udps    *UDPSockets    // where shared comes from; nil: h3 binds its own socket
	shared  *h3.Shared     // h3's socket, lent by udps
	udpOnce sync.Once
	tls     *tls.Config // nil without TLS
}

// ServerOptions are what a server shares with the rest of the process.
type ServerOptions struct {
	Metrics *Metrics // nil: none
	Logger  *slog.Logger
	// ACME serves the certificates of listeners with tls.acme (one
	// manager per process, kept across reloads); nil when none has.
	ACME CertSource
	// LocalCA issues the certificates of listeners with tls.local_ca.
	LocalCA *localca.CA
	// UDP lends HTTP/3 sockets across servers of one address (see
	// UDPSockets); nil: each server binds its own.
	UDP *UDPSockets
}

// NewServer prepares a server for cfg on ln; Serve starts it.
func NewServer(ln net.Listener, cfg configs.Listener, h http.Handler, o ServerOptions) (*Server, error) {
	m, logger := o.Metrics, o.Logger
	lim := cfg.Limits
	s := &Server{Name: cfg.Name, cfg: cfg, log: logger, stopWatch: make(chan struct{}), udps: o.UDP}
	s.h1 = &h1.Server{
		Handler:           h,
		ReadHeaderTimeout: lim.ReadHeaderTimeout.D(),
		ReadTimeout:       lim.ReadTimeout.D(),
		WriteTimeout:      lim.WriteTimeout.D(),
		IdleTimeout:       lim.IdleTimeout.D(),
		MaxHeaderBytes:    int(lim.MaxHeaderBytes),
		Logger:            logger,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if st := listener.TLSState(c); st != nil {
				ctx = withConnCert(context.WithValue(ctx, tlsStateKey{}, st))
			}
			return ctx
		},
	}
	s.h2 = &h2.Server{
		Handler:              h,
		MaxConcurrentStreams: uint32(lim.MaxConcurrentStreams),
		MaxHeaderBytes:       int(lim.MaxHeaderBytes),
		IdleTimeout:          lim.IdleTimeout.D(),
		Logger:               logger,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if listener.TLSState(c) != nil {
				ctx = withConnCert(ctx)
			}
			return ctx
		},
	}
	opts := listener.Options{
		H2C:              slices.Contains(cfg.Protocols, "h2c"),
		HTTP1:            slices.Contains(cfg.Protocols, "http1"),
		MaxConnections:   lim.MaxConnections,
		MaxHeaderBytes:   int(lim.MaxHeaderBytes),
		HandshakeTimeout: lim.ReadHeaderTimeout.D(),
		StallTimeout:     lim.IdleTimeout.D(),
		Logger:           logger,
	}
	if m != nil {
		g := m.ActiveConns.WithLabelValues(cfg.Name)
		opts.OnConn = func(d int) { g.Add(float64(d)) }
	}
	if cfg.TLS != nil {
		tc, store, err := serverTLS(cfg, o)
		if err != nil {
			return nil, err
		}
		opts.TLS = tc
		s.certs, s.tls = store, tc
		if slices.Contains(cfg.Protocols, "h3") {
			if err := s.setupH3(ln.Addr(), tc, h); err != nil {
				return nil, err
			}
		}
	}
	s.ls = listener.New(ln, opts, s.h2.ServeConn)
	return s, nil
}

// tls12Suites are the TLS 1.2 cipher suites offered: forward secret key
// exchange and AEAD only (TLS 1.3's suites are not configurable and all
// qualify). The order is the preference when the client has no AES
// hardware; Go reorders for clients that do.
var tls12Suites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// tlsStateKey carries the TLS state of an HTTP/1.1 connection (package h1
// does not fill r.TLS, and the connection is wrapped by the strict parser
// anyway); Gateway copies it to r.TLS.
type tlsStateKey struct{}

// reportCerts logs what a certificate watch found.
func (s *Server) reportCerts(changed bool, err error) {
	if s.log == nil {
		return
	}
	if err != nil {
		s.log.Error("certificates not reloaded; the ones in use stay", "listener", s.Name, "error", err)
		return
	}
	s.log.Info("certificates reloaded", "listener", s.Name)
}

// Addr is the bound address.
func (s *Server) Addr() net.Addr { return s.ls.Addr() }

// TLSConfig is the listener's server TLS config (certificates by SNI,
// versions, client certificates), nil without TLS. L4 routes that
// terminate TLS on the same listener use it.
func (s *Server) TLSConfig() *tls.Config { return s.tls }

// Config is the listener config this server was built from.
func (s *Server) Config() configs.Listener { return s.cfg }

// Serve runs until Shutdown; it returns nil after a shutdown.
func (s *Server) Serve() error {
	if s.certs != nil && s.cfg.TLS.WatchInterval > 0 {
		go s.certs.Watch(s.cfg.TLS.WatchInterval.D(), s.stopWatch, s.reportCerts)
	}
	errc := make(chan error, 3)
	if s.h3 != nil {
		go func() {
			err := s.serveH3()
			if errors.Is(err, http.ErrServerClosed) || errors.Is(err, net.ErrClosed) {
				err = nil
			}
			errc <- err
		}()
	}
	go func() {
		err := s.h1.Serve(s.ls.HTTP1Listener())
		if errors.Is(err, h1.ErrServerClosed) || errors.Is(err, net.ErrClosed) {
			err = nil
		}
		errc <- err
	}()
	err := s.ls.Serve()
	if err2 := <-errc; err == nil {
		err = err2
	}
	if s.h3 != nil {
		if err3 := <-errc; err == nil {
			err = err3
		}
	}
	return err
}

// Shutdown stops accepting, lets in-flight requests finish, and closes
// what is left when ctx ends.
//
// HTTP/1.1 keep-alives are turned off: idle connections close now, busy
// ones after their response, and one accepted a moment before still gets
// its first request answered (http.Server.Shutdown would drop it unanswered).
// HTTP/2 and HTTP/3 connections get GOAWAY.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() { close(s.stopWatch) })
	h3err := make(chan error, 1)
	go func() { // HTTP/3 drains alongside h1 and h2
		if s.h3 == nil {
			h3err <- nil
			return
		}
		err := s.h3.Shutdown(ctx)
		s.releaseUDP()
		h3err <- err
	}()
	_ = s.ls.Close()
	// Connections accepted just before the close may still be in their TLS
	// handshake or preface peek: let them reach a server first.
	_ = s.ls.WaitHandoff(ctx)
	s.h1.SetKeepAlivesEnabled(false)
	s.h2.Shutdown()
	err := s.ls.Wait(ctx)
	if err != nil {
		s.ls.CloseConns()
	}
	_ = s.h1.Close() // ends Serve; no connection is left
	return errors.Join(err, <-h3err)
}
