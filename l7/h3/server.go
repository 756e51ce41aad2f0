// Package h3 serves HTTP/3 on the UDP port of a TLS listener, with
// quic-go: the same handler as HTTP/1.1 and h2, an Alt-Svc value for
// those to advertise, 0-RTT off unless asked for (and then only for safe
// methods), Retry under handshake floods, and a graceful shutdown.
package h3

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

// defaultAltSvcMaxAge is the default ma parameter of the Alt-Svc value:
// how long a client may keep using HTTP/3 without seeing the header again
// (RFC 7838 section 3.1).
const defaultAltSvcMaxAge = 24 * time.Hour

// Options configure a Server. TLS and Handler are required.
type Options struct {
	// TLS is the TCP listener's config (certificates by SNI); New clones
	// it and offers only ALPN "h3". QUIC always negotiates TLS 1.3.
	TLS *tls.Config
	// Handler is the same L7 handler as for HTTP/1.1 and h2. It sees
	// Proto "HTTP/3.0" and r.TLS filled in by quic-go.
	Handler http.Handler
	// MaxHeaderBytes limits the request's HEADERS frame and its decoded
	// fields; over it the client gets 431. 0 means 1 MiB.
	MaxHeaderBytes int
	// IdleTimeout closes a connection that has had no request for this
	// long, and is QUIC's idle timeout too. 0: no HTTP/3 limit, and QUIC
	// closes after 30 s without packets.
	IdleTimeout time.Duration
	// MaxIncomingStreams is the number of concurrent requests a
	// connection may have. 0 means 100.
	MaxIncomingStreams int64
	// Allow0RTT accepts early data from resumed clients: safe methods are
	// served with "Early-Data: 1", others get 425 (RFC 8470). Off by
	// default, since early data can be replayed.
	Allow0RTT bool
	// RetryAbove is the rate of new handshakes per second above which
	// every new connection must first pass a Retry (address validation).
	// 0: never forced.
	RetryAbove int
	// AltSvcMaxAge is how long clients may remember the Alt-Svc
	// advertisement (its ma parameter); 0 means 24 hours.
	AltSvcMaxAge time.Duration
	// Logger receives the buffer warning and quic-go's debug lines; nil
	// means slog.Default().
	Logger *slog.Logger
	// ConnContext, if set, derives the context of a connection's requests
	// from the server's.
	ConnContext func(context.Context) context.Context
}

// Server is an HTTP/3 server. Serve runs it on a UDP socket; Shutdown
// stops it. All methods are safe for concurrent use.
type Server struct {
	h3      *http3.Server
	tls     *tls.Config
	quic    *quic.Config
	gate    *retryGate // nil when RetryAbove is 0
	log     *slog.Logger
	bufWant int // socket buffer size below which Serve warns
	maxAge  int // Alt-Svc ma, in seconds

	altSvc atomic.Pointer[string]

	mu         sync.Mutex
	closing    bool
	closed     chan struct{} // closed when closing becomes true
	transports []*quic.Transport
}

// New checks o and builds a Server; nothing listens until Serve.
func New(o Options) (*Server, error) {
	if o.TLS == nil {
		return nil, errors.New("h3: tls config is required")
	}
	if o.Handler == nil {
		return nil, errors.New("h3: handler is required")
	}
	if o.MaxHeaderBytes < 0 || o.IdleTimeout < 0 || o.MaxIncomingStreams < 0 || o.RetryAbove < 0 {
		return nil, errors.New("h3: limits must not be negative")
	}
	if o.MaxHeaderBytes == 0 {
		o.MaxHeaderBytes = http.DefaultMaxHeaderBytes
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.AltSvcMaxAge <= 0 {
		o.AltSvcMaxAge = defaultAltSvcMaxAge
	}
	s := &Server{
		closed:  make(chan struct{}),
		maxAge:  int(o.AltSvcMaxAge / time.Second),
		log:     o.Logger,
		bufWant: quicBufferSize,
		tls:     serverTLS(o.TLS, o.MaxHeaderBytes),
		quic: &quic.Config{
			MaxIdleTimeout:     o.IdleTimeout,
			MaxIncomingStreams: o.MaxIncomingStreams,
			Allow0RTT:          o.Allow0RTT,
		},
	}
	if o.RetryAbove > 0 {
		s.gate = newRetryGate(o.RetryAbove, time.Now)
	}
	h := o.Handler
	if o.Allow0RTT {
		h = guardEarlyData(h)
	}
	s.h3 = &http3.Server{
		Handler:        h,
		MaxHeaderBytes: o.MaxHeaderBytes,
		IdleTimeout:    o.IdleTimeout,
		Logger:         o.Logger,
	}
	if f := o.ConnContext; f != nil {
		s.h3.ConnContext = func(ctx context.Context, _ *quic.Conn) context.Context { return f(ctx) }
	}
	return s, nil
}

// Serve accepts HTTP/3 connections on conn (normally the UDP socket bound
// to the TCP listener's address) until Shutdown or Close, and then returns
// http.ErrServerClosed; any other error means the socket failed. It
// blocks. Serve does not close conn: the caller does, after Serve has
// returned and Shutdown or Close has finished.
func (s *Server) Serve(conn net.PacketConn) error {
	quietQUICBufferWarning()
	tr := &quic.Transport{Conn: conn}
	if s.gate != nil {
		tr.VerifySourceAddress = s.gate.verify
	}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return http.ErrServerClosed
	}
	s.transports = append(s.transports, tr)
	s.mu.Unlock()

	ln, err := s.listen(tr)
	if err != nil {
		_ = tr.Close()
		if s.isClosing() {
			return http.ErrServerClosed
		}
		return fmt.Errorf("h3: listen on %s: %w", conn.LocalAddr(), err)
	}
	err = s.serveListener(ln, conn)
	if errors.Is(err, http.ErrServerClosed) {
		return http.ErrServerClosed // Shutdown or Close closes the transport
	}
	_ = tr.Close()
	return err
}

// serveListener accepts on ln, a listener on conn, until Shutdown or
// Close (http.ErrServerClosed) or a socket failure, and closes ln.
func (s *Server) serveListener(ln http3.QUICListener, conn net.PacketConn) error {
	s.checkBuffers(conn)
	s.advertise(conn.LocalAddr())
	err := s.h3.ServeListener(ln)
	_ = ln.Close() // ends handshakes in progress; accepted connections live on
	if errors.Is(err, http.ErrServerClosed) {
		return http.ErrServerClosed
	}
	return fmt.Errorf("h3: serve %s: %w", conn.LocalAddr(), err)
}

// listen starts QUIC on tr: a listener that hands connections over before
// the handshake completes only when 0-RTT is allowed, so that without it
// every request arrives after the handshake.
func (s *Server) listen(tr *quic.Transport) (http3.QUICListener, error) {
	if s.quic.Allow0RTT {
		return tr.ListenEarly(s.tls, s.quic)
	}
	return tr.Listen(s.tls, s.quic)
}

// AltSvc is the Alt-Svc field value advertising this server, as
// h3=":PORT"; ma=86400, or "" before Serve and after Shutdown began.
func (s *Server) AltSvc() string {
	if v := s.altSvc.Load(); v != nil {
		return *v
	}
	return ""
}

// Retries counts the Retry packets the server asked for: one per Initial
// packet without an address token that opened no connection while the
// handshake rate was above RetryAbove (a ClientHello may take two).
func (s *Server) Retries() uint64 {
	if s.gate == nil {
		return 0
	}
	return s.gate.retries.Load()
}

// Shutdown stops advertising and accepting, sends GOAWAY on every
// connection, refuses new requests, and waits until the requests in
// flight have finished and the clients have closed, or ctx is done (then
// it closes everything and returns ctx's error).
func (s *Server) Shutdown(ctx context.Context) error {
	trs := s.stop()
	err := s.h3.Shutdown(ctx)
	for _, tr := range trs {
		_ = tr.Close()
	}
	if err != nil {
		return fmt.Errorf("h3: shutdown: %w", err)
	}
	return nil
}

// Close closes every connection at once, aborting requests in flight.
func (s *Server) Close() error {
	trs := s.stop()
	err := s.h3.Close()
	for _, tr := range trs {
		_ = tr.Close()
	}
	if err != nil {
		return fmt.Errorf("h3: close: %w", err)
	}
	return nil
}

// stop marks the server closing and returns the transports to close.
func (s *Server) stop() []*quic.Transport {
	s.altSvc.Store(nil)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closing {
		s.closing = true
		close(s.closed)
	}
	trs := s.transports
	s.transports = nil
	return trs
}

// advertise sets the Alt-Svc value from the first socket served, unless
// Shutdown has begun.
func (s *Server) advertise(a net.Addr) {
	port := portOf(a)
	if port == 0 {
		return
	}
	v := `h3=":` + strconv.Itoa(port) + `"; ma=` + strconv.Itoa(s.maxAge)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closing {
		s.altSvc.CompareAndSwap(nil, &v)
	}
}

// isClosing reports whether Shutdown or Close was called.
func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// portOf is the port of a UDP address, or 0.
func portOf(a net.Addr) int {
	if u, ok := a.(*net.UDPAddr); ok {
		return u.Port
	}
	if _, p, err := net.SplitHostPort(a.String()); err == nil {
		n, _ := strconv.Atoi(p)
		return n
	}
	return 0
}
