package listener

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"sync"
	"time"
)

// h2Preface is the HTTP/2 client connection preface (RFC 9113 3.4).
const h2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// trackedConn is the accepted socket. Every conn handed out wraps it, so
// its Close, however reached, untracks the connection exactly once.
type trackedConn struct {
	net.Conn
	s      *Server
	once   sync.Once
	closed chan struct{}
	handed sync.Once
}

// handedOff marks the connection as delivered to a protocol server (or
// given up); WaitHandoff waits for every accepted connection to get here.
func (c *trackedConn) handedOff() {
	c.handed.Do(func() {
		c.s.mu.Lock()
		c.s.pending--
		c.s.updateSettled()
		c.s.mu.Unlock()
	})
}

// Close closes the socket and untracks it.
func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		close(c.closed)
		c.s.untrack(c)
	})
	return err
}

// CloseWrite half-closes a TCP socket; it does nothing on other sockets.
func (c *trackedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func (s *Server) track(c net.Conn) *trackedConn {
	tc := &trackedConn{Conn: c, s: s, closed: make(chan struct{})}
	s.mu.Lock()
	s.pending++
	s.updateSettled()
	s.conns[tc] = struct{}{}
	s.updateIdle()
	s.mu.Unlock()
	if s.opts.OnConn != nil {
		s.opts.OnConn(1)
	}
	return tc
}

func (s *Server) untrack(c *trackedConn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.updateIdle()
	s.mu.Unlock()
	s.release()
	if s.opts.OnConn != nil {
		s.opts.OnConn(-1)
	}
}

// dispatch runs in its own goroutine per connection, so a slow handshake or
// preface never holds up the accept loop.
func (s *Server) dispatch(c *trackedConn) {
	defer c.handedOff()
	switch {
	case s.tls != nil:
		s.serveTLS(c)
	case s.opts.H2C:
		s.servePlain(c)
	default:
		s.serveHTTP1(c, c)
	}
}

func (s *Server) serveTLS(c *trackedConn) {
	tc := tls.Server(c, s.tls)
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.HandshakeTimeout)
	err := tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		s.log.Debug("listener: tls handshake failed", "remote", c.RemoteAddr().String(), "error", err)
		_ = c.Close()
		return
	}
	if tc.ConnectionState().NegotiatedProtocol == "h2" {
		s.serveTLSH2(c, tc)
		return
	}
	s.serveHTTP1(tc, c)
}

// serveTLSH2 waits for the preface of a connection whose ALPN chose h2, as
// servePlain does for h2c: a client that never sends it is closed after
// HandshakeTimeout instead of holding a connection slot, and until it comes
// the connection counts as not handed off, so a drain (WaitHandoff, then
// the h2 server's shutdown) sees it.
func (s *Server) serveTLSH2(c *trackedConn, tc *tls.Conn) {
	got, err := s.peekPreface(tc)
	if err != nil || string(got) != h2Preface {
		// RFC 9113 3.4: an invalid preface is a connection error; GOAWAY
		// may be left out.
		s.log.Debug("listener: no h2 preface", "remote", c.RemoteAddr().String(), "error", err)
		_ = tc.Close()
		return
	}
	c.handedOff()
	s.serveH2(&prefixConn{Conn: tc, buf: got}, tc)
}

// servePlain peeks at the start of a plain connection: the HTTP/2 preface
// goes to h2, anything else to HTTP/1.1, with what was read replayed.
func (s *Server) servePlain(c *trackedConn) {
	got, err := s.peekPreface(c)
	if err != nil {
		s.log.Debug("listener: preface peek failed", "remote", c.RemoteAddr().String(), "error", err)
		_ = c.Close()
		return
	}
	pc := &prefixConn{Conn: c, buf: got}
	if string(got) == h2Preface {
		c.handedOff()
		s.serveH2(pc, nil)
		return
	}
	s.serveHTTP1(pc, c)
}

// peekPreface reads from c, within HandshakeTimeout, at most the length of
// the HTTP/2 preface, stopping at the first byte that differs, and returns
// what it read. The error is that of a read that failed while every byte so
// far matched; the caller then closes c. The read deadline is cleared
// otherwise.
func (s *Server) peekPreface(c net.Conn) ([]byte, error) {
	buf := make([]byte, len(h2Preface))
	_ = c.SetReadDeadline(time.Now().Add(s.opts.HandshakeTimeout))
	n := 0
	for n < len(buf) && bytes.HasPrefix([]byte(h2Preface), buf[:n]) {
		m, err := c.Read(buf[n:])
		n += m
		if err != nil && bytes.HasPrefix([]byte(h2Preface), buf[:n]) {
			return buf[:n], err
		}
	}
	_ = c.SetReadDeadline(time.Time{})
	return buf[:n], nil
}

// serveH2 hands c, its writes batched (h2batch.go), to the h2 callback;
// tc is the TLS connection under c, nil for h2c.
func (s *Server) serveH2(c net.Conn, tc *tls.Conn) {
	if s.h2 != nil {
		b := newBatchConn(c)
		b.stall = s.opts.StallTimeout
		var conn net.Conn = b
		if tc != nil {
			conn = &batchTLSConn{batchConn: b, tc: tc}
		}
		s.h2(conn)
		_ = b.Close() // writes out what is still queued
	}
	_ = c.Close()
}

// serveHTTP1 wraps c in the strict validator and hands it to HTTP1Listener's
// Accept; raw is the socket under c, watched in case it is closed first.
func (s *Server) serveHTTP1(c net.Conn, raw *trackedConn) {
	if !s.opts.HTTP1 {
		lingerClose(c) // not HTTP/2 and HTTP/1.1 is off: end it (RFC 9113 3.4)
		return
	}
	s.h1.deliver(newStrictConn(c, s.opts.MaxHeaderBytes, s.log), raw.closed)
}

// prefixConn replays bytes already read from its Conn before reading more.
type prefixConn struct {
	net.Conn
	buf []byte
}

// Read returns the replayed bytes first.
func (c *prefixConn) Read(b []byte) (int, error) {
	if len(c.buf) > 0 {
		n := copy(b, c.buf)
		c.buf = c.buf[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}

// CloseWrite half-closes the socket underneath.
func (c *prefixConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// lingerClose ends a connection we will not serve with a clean close: it
// sends FIN, then reads and drops what the peer already sent (bounded in
// time and bytes), so that closing with unread data does not turn into a
// reset the peer sees before it reads ours.
func lingerClose(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_ = c.SetReadDeadline(time.Now().Add(lingerTime))
	_, _ = io.CopyN(io.Discard, c, 64<<10)
	_ = c.Close()
}
