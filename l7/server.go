package l7

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"

	"github.com/bouncer-proxy/bouncer/configs"
	"github.com/bouncer-proxy/bouncer/l7/h1"
	"github.com/bouncer-proxy/bouncer/l7/h2"
	"github.com/bouncer-proxy/bouncer/listener"
	"github.com/bouncer-proxy/bouncer/tls/certs"
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
}

// NewServer prepares a server for cfg on ln; Serve starts it.
func NewServer(ln net.Listener, cfg configs.Listener, h http.Handler, m *Metrics, logger *slog.Logger) (*Server, error) {
	lim := cfg.Limits
	s := &Server{Name: cfg.Name, cfg: cfg, log: logger, stopWatch: make(chan struct{})}
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
				ctx = context.WithValue(ctx, tlsStateKey{}, st)
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
		tc, store, err := serverTLS(cfg)
		if err != nil {
			return nil, err
		}
		opts.TLS = tc
		s.certs = store
	}
	s.ls = listener.New(ln, opts, s.h2.ServeConn)
	return s, nil
}

// serverTLS builds the TLS config of a listener: its certificates, chosen
// by SNI, and the versions and cipher suites it accepts.
func serverTLS(cfg configs.Listener) (*tls.Config, *certs.Store, error) {
	var pairs []certs.Pair
	for _, p := range cfg.TLS.Pairs() {
		pairs = append(pairs, certs.Pair{CertFile: p.CertFile, KeyFile: p.KeyFile})
	}
	store, err := certs.New(pairs, cfg.TLS.StrictSNI)
	if err != nil {
		return nil, nil, fmt.Errorf("l7: listener %s: %w", cfg.Name, err)
	}
	var protos []string
	if slices.Contains(cfg.Protocols, "h2") {
		protos = append(protos, "h2")
	}
	if slices.Contains(cfg.Protocols, "http1") {
		protos = append(protos, "http/1.1")
	}
	minVersion := uint16(tls.VersionTLS12)
	if cfg.TLS.MinVersion == "1.3" {
		minVersion = tls.VersionTLS13
	}
	return &tls.Config{
		GetCertificate: store.GetCertificate,
		NextProtos:     protos,
		MinVersion:     minVersion,
		CipherSuites:   tls12Suites,
	}, store, nil
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

// Config is the listener config this server was built from.
func (s *Server) Config() configs.Listener { return s.cfg }

// Serve runs until Shutdown; it returns nil after a shutdown.
func (s *Server) Serve() error {
	if s.certs != nil && s.cfg.TLS.WatchInterval > 0 {
		go s.certs.Watch(s.cfg.TLS.WatchInterval.D(), s.stopWatch, s.reportCerts)
	}
	errc := make(chan error, 2)
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
	return err
}

// Shutdown stops accepting, lets in-flight requests finish, and closes
// what is left when ctx ends.
//
// HTTP/1.1 keep-alives are turned off: idle connections close now, busy
// ones after their response, and one accepted a moment before still gets
// its first request answered (http.Server.Shutdown would drop it unanswered).
// HTTP/2 connections get GOAWAY.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() { close(s.stopWatch) })
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
	return err
}
