package listener

import (
	"bytes"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// strictConn is the net.Conn that HTTP1Listener hands to the HTTP/1.1
// server (l7/h1 in Bouncer; net/http behaves the same way, and this
// package's tests use it): it validates the request stream as it is read
// (see parser) and refuses a malformed request before the server sees any
// of it. "The server" below is either.
//
// Body bytes are validated in place in the caller's buffer and returned at
// once. A request head is returned only once it is complete and valid: a head
// that arrives in one read (the usual case) costs no copy; a head split across
// reads is held in a buffer until its end arrives. Holding matters: net/http
// parses a partial last line followed by a read error as a whole line and
// would answer it with its own plain-text 400; l7/h1 gives no such promise.
//
// How a refusal reaches the client without mixing into another response:
// Read never writes. On a violation in a request head, Read returns the
// bytes before that head and then, sticky, a *net.OpError with Op "read"
// wrapping the *Violation. The server treats such an error as the client
// going away: it writes nothing, finishes and flushes any response in
// progress, and closes the connection. Close, called by the server once it is done with
// the connection, writes the JSON 400 (or 431) under the write lock, so it
// always follows complete responses and never interleaves with a Write.
// (If http.Server.Close forces a close while a handler still writes a
// pipelined response, that response is cut short anyway; the 400 follows
// whatever was written whole.)
//
// A violation inside a body (chunk framing, trailers) is reported the same
// way, but the handler already runs and answers for it: Close then writes
// nothing more; the handler sees the error from its body reads.
//
// After a request with Connection: upgrade and an Upgrade field, a response
// write that starts with "HTTP/1.1 101" makes the connection opaque (a
// tunnel: no more validation). Until that 101, bytes that follow are
// validated as HTTP, so a refused upgrade cannot smuggle a request. A
// client must therefore wait for the 101 before sending tunnel bytes, as
// WebSocket clients do.
type strictConn struct {
	net.Conn
	log *slog.Logger

	rmu  sync.Mutex // Read state; net/http reads from one goroutine at a time
	p    parser
	rerr error  // sticky violation; other read errors are returned as they come
	buf  []byte // bytes read and not returned: buf[off:ready] validated, buf[ready:] an incomplete head
	off  int
	rdy  int

	wmu         sync.Mutex // serialises Write and the refusal in Close
	upgradeWait atomic.Bool
	opaque      atomic.Bool
	refusal     atomic.Pointer[Violation] // head violation to answer in Close

	closeOnce sync.Once
	closeErr  error
}

// lingerTime bounds how long a refused connection is drained after the
// error response, so that unread request bytes do not turn the close into a
// reset that destroys the response (the same reason net/http lingers).
const lingerTime = 500 * time.Millisecond

// refusalWriteTimeout bounds writing the error response to a stuck client.
const refusalWriteTimeout = 2 * time.Second

// minRead is the least free space offered to a read into the hold buffer.
const minRead = 4096

func newStrictConn(c net.Conn, maxHead int, log *slog.Logger) *strictConn {
	return &strictConn{Conn: c, log: log, p: newParser(maxHead)}
}

// Read reads from the connection and returns validated bytes; see the type
// comment for what a violation looks like. It blocks until it has bytes to
// return (a split head needs its end) or an error.
func (c *strictConn) Read(b []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for {
		if c.opaque.Load() {
			c.rdy = len(c.buf) // tunnel bytes: whatever is held goes as is
		}
		if c.off < c.rdy {
			return c.drain(b), nil
		}
		if c.rerr != nil {
			return 0, c.rerr
		}
		if c.off == len(c.buf) {
			if n, err, done := c.readDirect(b); done {
				return n, err
			}
			continue
		}
		if err := c.readHeld(); err != nil && c.off == c.rdy {
			return 0, err
		}
	}
}

// readDirect is the fast path, taken when nothing is held: it reads into b
// and validates in place. done is false when all it read is the start of a
// head, now held. A read error is returned as it comes, never kept: a
// timeout from net/http's abort of its background read must not outlive
// the deadline.
func (c *strictConn) readDirect(b []byte) (int, error, bool) {
	n, err := c.Conn.Read(b)
	// The 101 check in Write happens before the 101 leaves, so tunnel bytes
	// sent in answer to it are read after opaque is set.
	if n == 0 || c.opaque.Load() {
		return n, err, true
	}
	k, v, inHead := c.p.feed(b[:n])
	c.upgradeWait.Store(c.p.upgradeWait)
	if v != nil {
		c.refuse(v, inHead)
		return k, nil, k > 0
	}
	if c.p.midHead() {
		k = max(c.p.headStart, 0)
		c.buf = append(c.buf[:0], b[k:n]...)
		c.off, c.rdy = 0, 0
	}
	return k, err, k > 0 || err != nil
}

// readHeld reads more after a held head and validates the new bytes.
func (c *strictConn) readHeld() error {
	if c.off > 0 {
		c.buf = c.buf[:copy(c.buf, c.buf[c.off:])]
		c.rdy -= c.off
		c.off = 0
	}
	c.buf = slices.Grow(c.buf, minRead)
	old := len(c.buf)
	n, err := c.Conn.Read(c.buf[old:cap(c.buf)])
	c.buf = c.buf[:old+n]
	if n == 0 || c.opaque.Load() {
		return err
	}
	k, v, inHead := c.p.feed(c.buf[old:])
	c.upgradeWait.Store(c.p.upgradeWait)
	switch {
	case v != nil && inHead && c.p.headStart < 0:
		c.buf = c.buf[:c.rdy] // the held head itself is bad: drop it
		c.refuse(v, true)
	case v != nil:
		c.buf = c.buf[:old+k]
		c.rdy = len(c.buf)
		c.refuse(v, inHead)
	case c.p.midHead() && c.p.headStart >= 0:
		c.rdy = old + c.p.headStart
	case !c.p.midHead():
		c.rdy = len(c.buf)
	}
	return err
}

func (c *strictConn) drain(b []byte) int {
	n := copy(b, c.buf[c.off:c.rdy])
	c.off += n
	if c.off == len(c.buf) {
		c.buf, c.off, c.rdy = c.buf[:0], 0, 0
	}
	return n
}

// refuse records a violation: Read fails from now on.
func (c *strictConn) refuse(v *Violation, inHead bool) {
	c.rerr = &net.OpError{Op: "read", Net: "tcp", Source: c.RemoteAddr(), Addr: c.LocalAddr(), Err: v}
	if inHead {
		c.refusal.Store(v)
	}
	c.log.Debug("listener: request refused", "remote", c.RemoteAddr().String(), "reason", v.Reason, "status", v.Status)
}

// Write writes to the connection, serialised with the refusal in Close.
func (c *strictConn) Write(b []byte) (int, error) {
	if c.opaque.Load() {
		return c.Conn.Write(b)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.upgradeWait.Load() && bytes.HasPrefix(b, switchingProtocols) {
		c.opaque.Store(true)
	}
	return c.Conn.Write(b)
}

var switchingProtocols = []byte("HTTP/1.1 101")

// Close closes the connection once. After a refused head it first writes
// the error response, then drains briefly in the background and closes.
func (c *strictConn) Close() error {
	c.closeOnce.Do(func() {
		v := c.refusal.Load()
		if v == nil {
			c.closeErr = c.Conn.Close()
			return
		}
		if v.Status == 0 {
			go linger(c.Conn) // not HTTP/1.x: no response, a clean close
			return
		}
		c.wmu.Lock()
		_ = c.Conn.SetWriteDeadline(time.Now().Add(refusalWriteTimeout))
		_, err := c.Conn.Write(v.response())
		c.wmu.Unlock()
		if err != nil {
			c.closeErr = c.Conn.Close()
			return
		}
		go linger(c.Conn)
	})
	return c.closeErr
}

// linger half-closes c, discards what the client still sends for a short
// while, and closes.
func linger(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_ = c.SetReadDeadline(time.Now().Add(lingerTime))
	_, _ = io.CopyN(io.Discard, c, 256<<10)
	_ = c.Close()
}

// TLSState returns the TLS state of a connection handed out by
// HTTP1Listener or handed to the h2 callback (or of a *tls.Conn), or nil
// for plain TCP.
//
// A server that fills Request.TLS from a *tls.Conn (net/http) cannot see
// through a strict connection. Bouncer's HTTP/1.1 server therefore stores
// TLSState(c) in the connection's context (l7.Server's h1.Server
// ConnContext) and copies it into Request.TLS before routing.
func TLSState(c net.Conn) *tls.ConnectionState {
	switch w := c.(type) {
	case *strictConn:
		c = w.Conn
	case *batchTLSConn:
		c = w.tc
	}
	if tc, ok := c.(*tls.Conn); ok {
		st := tc.ConnectionState()
		return &st
	}
	return nil
}
