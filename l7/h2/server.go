// Package h2 is Bouncer's HTTP/2 server (RFC 9113) for connections the
// listener has identified by their preface (h2c) or ALPN (h2 over TLS).
//
// Each connection has one goroutine that reads and dispatches frames, and
// one goroutine per request running the http.Handler. Handlers write their
// frames themselves, under the connection's write lock, into a buffer that
// the listener's write batcher sends with as few system calls as it can;
// there is no frame scheduler goroutine and no channel between a handler
// and the socket. Control frames (SETTINGS and PING acknowledgements,
// WINDOW_UPDATE) are written by the read loop the same way, so a peer that
// stops reading stops being read from, instead of growing a queue.
//
// Frames are parsed and HPACK blocks decoded by golang.org/x/net/http2's
// Framer; stream states, flow control, request validation (RFC 9113 8.1
// and 8.2) and the ResponseWriter are here.
package h2

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Server serves HTTP/2 connections. Set the fields before the first
// ServeConn; its methods are safe for concurrent use.
type Server struct {
	Handler              http.Handler
	MaxConcurrentStreams uint32        // SETTINGS_MAX_CONCURRENT_STREAMS; 0: 250
	MaxHeaderBytes       int           // SETTINGS_MAX_HEADER_LIST_SIZE; larger requests get 431; 0: 1 MiB
	IdleTimeout          time.Duration // a connection without streams this long is sent GOAWAY and closed (one still without its preface is closed); 0: never
	// ConnContext, if set, derives the context of a connection's requests
	// from a background context and the connection.
	ConnContext func(ctx context.Context, c net.Conn) context.Context
	Logger      *slog.Logger // handler panics; nil: slog.Default()

	mu       sync.Mutex
	conns    map[*conn]struct{}
	shutdown bool
}

// Our side's settings and limits.
const (
	defaultMaxStreams = 250
	defaultMaxHeaders = 1 << 20
	streamWindow      = 1 << 20  // request body bytes buffered per stream
	connWindow        = 4 << 20  // and per connection
	maxFrameSize      = 16384    // SETTINGS_MAX_FRAME_SIZE we read (the RFC 9113 default)
	headerTableSize   = 4096     // our HPACK decoder's table
	headerDecodeSlack = 64 << 10 // header bytes decoded past MaxHeaderBytes, to answer 431
	// handlerSlack: handlers may outlive their streams (a reset stream's
	// handler still runs until it notices); a client that makes more than
	// this many times MaxConcurrentStreams of them run at once is sent
	// GOAWAY(ENHANCE_YOUR_CALM) (the rapid reset attack).
	handlerSlack = 4
)

func (s *Server) maxStreams() uint32 {
	if s.MaxConcurrentStreams == 0 {
		return defaultMaxStreams
	}
	return s.MaxConcurrentStreams
}

func (s *Server) maxHeaderBytes() uint32 {
	if s.MaxHeaderBytes <= 0 {
		return defaultMaxHeaders
	}
	return uint32(min(s.MaxHeaderBytes, 1<<31))
}

func (s *Server) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

// ServeConn serves c, which must start with the client connection preface,
// until the connection ends; it closes c. A preface that does not come
// within IdleTimeout (when set) ends the connection. (The listener hands
// a connection over only once the preface has come within its
// HandshakeTimeout, so there it is already waiting.)
func (s *Server) ServeConn(c net.Conn) {
	ctx := context.Background()
	if s.ConnContext != nil {
		ctx = s.ConnContext(ctx, c)
	}
	newConn(s, c, ctx).serve()
}

// track adds or removes a connection; adding fails after Shutdown.
func (s *Server) track(sc *conn, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !add {
		delete(s.conns, sc)
		return true
	}
	if s.shutdown {
		return false
	}
	if s.conns == nil {
		s.conns = map[*conn]struct{}{}
	}
	s.conns[sc] = struct{}{}
	return true
}

// Shutdown sends every connection GOAWAY: streams already started finish,
// new ones are refused, and each connection closes when its last stream
// ends. Connections served later, or still reading their preface, are
// sent SETTINGS and GOAWAY, serve no stream, and close. It does not wait.
func (s *Server) Shutdown() {
	s.mu.Lock()
	s.shutdown = true
	conns := make([]*conn, 0, len(s.conns))
	for sc := range s.conns {
		conns = append(conns, sc)
	}
	s.mu.Unlock()
	for _, sc := range conns {
		// Writing GOAWAY waits for the connection's write lock, which a
		// peer that stopped reading can hold forever.
		go sc.goAway(0, true)
	}
}

// tlsState returns the TLS state of c when it is (or wraps) a TLS
// connection.
func tlsState(c net.Conn) *tls.ConnectionState {
	if tc, ok := c.(interface{ ConnectionState() tls.ConnectionState }); ok {
		st := tc.ConnectionState()
		return &st
	}
	return nil
}
