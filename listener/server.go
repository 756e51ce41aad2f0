// Package listener owns sockets: the accept loop, the dispatch of each
// connection to HTTP/1.1 or HTTP/2 (TLS with ALPN, or h2c prior knowledge),
// strict HTTP/1.1 request validation, connection limits and tracking, and
// drain.
//
// Lifecycle: New, then Serve in its own goroutine; HTTP/1.1 connections come
// out of HTTP1Listener (serve it with an HTTP/1.1 server: l7/h1, or
// net/http), HTTP/2 connections go to the h2 callback. To drain: Close (stop
// accepting), WaitHandoff, shut the HTTP servers down, Wait with a
// deadline, then CloseConns.
package listener

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Options configures a Server. The zero value serves nothing: set HTTP1
// and/or pass an h2 callback (with TLS or H2C).
type Options struct {
	TLS              *tls.Config   // nil: plain TCP. With TLS, ALPN h2 goes to h2, anything else to HTTP/1.1
	H2C              bool          // plain TCP: a connection that starts with the HTTP/2 preface goes to h2
	HTTP1            bool          // serve HTTP/1.1; false: a connection that is not HTTP/2 is closed
	MaxConnections   int           // 0: unlimited; at the limit Serve stops accepting (the kernel backlog holds the rest)
	HandshakeTimeout time.Duration // the TLS handshake, then (h2 by ALPN, or h2c) the wait for the HTTP/2 preface; 0: 10s
	MaxHeaderBytes   int           // largest request head for the strict parser (431 above), 0: 64 KiB
	StallTimeout     time.Duration // h2: a socket write that takes longer ends the connection (a peer that stopped reading); 0: no limit
	OnConn           func(delta int)
	Logger           *slog.Logger // nil: discard
}

const (
	defaultHandshakeTimeout = 10 * time.Second
	defaultMaxHeaderBytes   = 64 << 10
)

// Server accepts connections from one net.Listener and dispatches them. Its
// methods are safe for concurrent use.
type Server struct {
	l    net.Listener
	opts Options
	tls  *tls.Config
	h2   func(net.Conn)
	h1   *connListener
	log  *slog.Logger
	sem  chan struct{} // one slot per open connection; nil when unlimited
	done chan struct{} // closed by Close

	closed    atomic.Bool
	closeOnce sync.Once

	mu      sync.Mutex
	conns   map[*trackedConn]struct{}
	serving bool
	idle    chan struct{} // closed when no connection is tracked and Serve is not running
	pending int           // accepted connections not yet handed to HTTP/1.1 or h2
	settled chan struct{} // closed when pending is 0 and Serve is not running
}

// New returns a Server that will accept from l. h2 serves one HTTP/2
// connection and blocks until it is done (h2.Server.ServeConn fits); it
// receives the connection once its preface has come, as a conn that
// replays the preface, with its writes batched (h2batch.go; over TLS the
// wrapper keeps the ConnectionState method, and TLSState sees through it). The connection is
// closed when h2 returns. h2 may be nil when no HTTP/2 is wanted. With TLS
// and empty NextProtos, New advertises what it serves.
func New(l net.Listener, opts Options, h2 func(c net.Conn)) *Server {
	if opts.HandshakeTimeout <= 0 {
		opts.HandshakeTimeout = defaultHandshakeTimeout
	}
	if opts.MaxHeaderBytes <= 0 {
		opts.MaxHeaderBytes = defaultMaxHeaderBytes
	}
	s := &Server{
		l: l, opts: opts, h2: h2, h1: newConnListener(l.Addr()),
		log: opts.Logger, done: make(chan struct{}),
		conns: make(map[*trackedConn]struct{}), idle: make(chan struct{}),
		settled: make(chan struct{}),
	}
	close(s.idle)
	close(s.settled)
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if opts.MaxConnections > 0 {
		s.sem = make(chan struct{}, opts.MaxConnections)
	}
	if opts.TLS != nil {
		s.tls = opts.TLS.Clone()
		if len(s.tls.NextProtos) == 0 {
			if h2 != nil {
				s.tls.NextProtos = append(s.tls.NextProtos, "h2")
			}
			if opts.HTTP1 {
				s.tls.NextProtos = append(s.tls.NextProtos, "http/1.1")
			}
		}
	}
	return s
}

// HTTP1Listener returns the listener that yields validated HTTP/1.1
// connections; serve it with an HTTP/1.1 server. Its Close (as done by a
// server shutting down) stops handing out connections and does not close
// the socket; connections that arrive after it are closed.
func (s *Server) HTTP1Listener() net.Listener { return s.h1 }

// Addr returns the socket's address.
func (s *Server) Addr() net.Addr { return s.l.Addr() }

// Serve runs the accept loop until Close; it then returns nil. Any other
// accept failure that is not temporary is returned.
func (s *Server) Serve() error {
	if !s.setServing(true) {
		return nil
	}
	defer s.setServing(false)
	var delay time.Duration
	for {
		if !s.acquire() {
			return nil
		}
		c, err := s.l.Accept()
		if err != nil {
			s.release()
			if s.closed.Load() {
				return nil
			}
			if !isTemporary(err) {
				return fmt.Errorf("listener: accept: %w", err)
			}
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.log.Warn("listener: accept failed; retrying", "error", err, "delay", delay)
			if !s.pause(delay) {
				return nil
			}
			continue
		}
		delay = 0
		go s.dispatch(s.track(c))
	}
}

// Close stops accepting: it closes the socket. Tracked connections are left
// alone. It is idempotent.
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		close(s.done)
		if err = s.l.Close(); err != nil {
			err = fmt.Errorf("listener: close: %w", err)
		}
	})
	return err
}

// ActiveConns returns how many accepted connections are still open.
func (s *Server) ActiveConns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Wait blocks until Serve has returned and every tracked connection is
// closed, or ctx is done (then it returns ctx.Err()). Call it after Close.
func (s *Server) Wait(ctx context.Context) error {
	s.mu.Lock()
	idle := s.idle
	s.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("listener: wait: %w", ctx.Err())
	}
}

// WaitHandoff blocks until Serve has returned and every accepted
// connection has been handed to HTTP1Listener or the h2 callback (or
// closed), or ctx is done. Call it
// after Close and before shutting the HTTP/1.1 server down, so that
// connections still in their TLS handshake or preface peek are served
// rather than dropped.
func (s *Server) WaitHandoff(ctx context.Context) error {
	s.mu.Lock()
	settled := s.settled
	s.mu.Unlock()
	select {
	case <-settled:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("listener: wait handoff: %w", ctx.Err())
	}
}

// CloseConns closes every tracked connection now, whatever it is doing.
func (s *Server) CloseConns() {
	s.mu.Lock()
	conns := make([]*trackedConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
}

// acquire takes a connection slot, blocking at the limit; false after Close.
func (s *Server) acquire() bool {
	if s.sem == nil {
		return !s.closed.Load()
	}
	select {
	case s.sem <- struct{}{}:
		return true
	case <-s.done:
		return false
	}
}

func (s *Server) release() {
	if s.sem != nil {
		<-s.sem
	}
}

func (s *Server) pause(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.done:
		return false
	}
}

// setServing marks Serve as running (so Wait waits for it) or not. Serve
// called after Close does nothing.
func (s *Server) setServing(on bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if on && (s.serving || s.closed.Load()) {
		return false
	}
	s.serving = on
	s.updateIdle()
	s.updateSettled()
	return true
}

// updateSettled keeps s.settled open while Serve runs or a connection
// waits for its handoff; called with s.mu held.
func (s *Server) updateSettled() {
	busy := s.serving || s.pending > 0
	select {
	case <-s.settled:
		if busy {
			s.settled = make(chan struct{})
		}
	default:
		if !busy {
			close(s.settled)
		}
	}
}

// updateIdle keeps s.idle open while there is work; called with s.mu held.
func (s *Server) updateIdle() {
	busy := s.serving || len(s.conns) > 0
	select {
	case <-s.idle:
		if busy {
			s.idle = make(chan struct{})
		}
	default:
		if !busy {
			close(s.idle)
		}
	}
}

func isTemporary(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	temporary := []error{syscall.ECONNABORTED, syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM}
	return slices.ContainsFunc(temporary, func(t error) bool { return errors.Is(err, t) })
}
