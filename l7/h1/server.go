// Package h1 is a lean HTTP/1.1 server loop for connections whose request
// stream is already validated (listener's strict wrapper): it serves one
// connection per goroutine, reads requests with http.ReadRequest, and hands
// them to an http.Handler with a ResponseWriter that buffers small bodies,
// chunks long ones, flushes, hijacks, and sends trailers.
//
// Unlike net/http it starts no goroutine per request to notice a client
// that goes away: a timer arms that read only for handlers that are still
// running after slowAfter.
package h1

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// ErrServerClosed is returned by Serve after Close.
var ErrServerClosed = errors.New("h1: server closed")

// Server serves HTTP/1.1 on the connections of a net.Listener. Set the
// fields before Serve; its methods are safe for concurrent use.
type Server struct {
	Handler           http.Handler
	ReadHeaderTimeout time.Duration // time to read a request head; for the first request it also bounds the wait for it
	ReadTimeout       time.Duration // time to read a whole request, body included; 0: none
	// WriteTimeout is the time to write a response, from the end of its
	// request head. 0: no bound on the whole response, but each socket
	// write of it (at most 64 KiB; flushes included) must complete within
	// about IdleTimeout, so a client that stops reading is dropped after
	// that long while a slow one that keeps reading is not; a handler that
	// sets its own write deadline (http.ResponseController) turns this off
	// for the rest of its request.
	WriteTimeout time.Duration
	// IdleTimeout is the keep-alive wait between requests and, when
	// WriteTimeout is 0, how long a response write may make no progress;
	// 0: ReadHeaderTimeout (with both 0, writes are not bounded).
	IdleTimeout    time.Duration
	MaxHeaderBytes int // a head longer than this (plus 4 KiB slack) is refused; 0: 1 MiB
	// ConnContext, if set, derives the context of a connection's requests
	// from a background context and the accepted connection.
	ConnContext func(ctx context.Context, c net.Conn) context.Context
	Logger      *slog.Logger // handler panics; nil: slog.Default()

	noKeepAlive atomic.Bool

	mu     sync.Mutex
	conns  map[*conn]struct{}
	ln     net.Listener
	closed bool
}

// SetKeepAlivesEnabled turns keep-alives on or off. Turning them off closes
// idle connections at once; busy ones close after their current response,
// and connections still waiting for their first request serve it and then
// close (or close when ReadHeaderTimeout passes).
func (s *Server) SetKeepAlivesEnabled(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.noKeepAlive.Store(!on)
	if on {
		return
	}
	for c := range s.conns {
		if c.state == stateIdle {
			c.state = stateClosing
			_ = c.rwc.Close()
		}
	}
}

// Serve accepts connections from l and serves each in its own goroutine.
// It blocks until l fails or Close is called; after Close it returns
// ErrServerClosed, otherwise the accept error (wrapped).
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.ln = l
	s.mu.Unlock()
	var backoff time.Duration
	for {
		rwc, err := l.Accept()
		if err != nil {
			if s.isClosed() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff) // a transient accept error (as net/http); not synchronisation
				continue
			}
			return fmt.Errorf("h1: accept: %w", err)
		}
		backoff = 0
		c := s.track(rwc)
		if c == nil {
			_ = rwc.Close()
			continue
		}
		go c.serve()
	}
}

// Close stops Serve, closes its listener and every tracked connection at
// once (hijacked ones are not tracked). It does not wait for handlers.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	var err error
	if s.ln != nil {
		err = s.ln.Close()
	}
	for c := range s.conns {
		c.state = stateClosing
		_ = c.rwc.Close()
	}
	return err
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

func (s *Server) maxHeaderBytes() int64 {
	if s.MaxHeaderBytes > 0 {
		return int64(s.MaxHeaderBytes)
	}
	return 1 << 20
}

func (s *Server) idleTimeout() time.Duration {
	if s.IdleTimeout > 0 {
		return s.IdleTimeout
	}
	return s.ReadHeaderTimeout
}

// connState is where a connection is in its life; guarded by Server.mu.
type connState uint8

const (
	stateNew     connState = iota // waiting for its first request
	stateActive                   // reading or serving a request
	stateIdle                     // waiting for its next request
	stateClosing                  // closed by the server; the goroutine is ending
)

// track registers a new connection, or returns nil after Close.
func (s *Server) track(rwc net.Conn) *conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	if s.conns == nil {
		s.conns = make(map[*conn]struct{})
	}
	c := newConn(s, rwc)
	s.conns[c] = struct{}{}
	return c
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// setState moves c to st unless the server closed it or (for idle) keep-
// alives are off; it reports whether c may go on.
func (s *Server) setState(c *conn, st connState) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.state == stateClosing || s.closed {
		return false
	}
	if st == stateIdle && s.noKeepAlive.Load() {
		return false
	}
	c.state = st
	return true
}
