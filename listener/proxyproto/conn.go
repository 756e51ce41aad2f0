package proxyproto

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// connBuffer is the read buffer of a Conn: enough for a v1 line; a v2 body
// is read into its own slice. Bytes it holds past the header are served by
// Read and WriteTo before the socket.
const connBuffer = 128

// Conn is a connection accepted through NewListener. Its header is read
// once, on the first call that needs it (see NewListener), with the read
// deadline set to Options.Timeout (or the application's read deadline if
// earlier) and the application's deadline restored afterwards. If the peer
// breaks the policy, the connection is closed, OnReject is called and Read
// returns an error wrapping ErrRejected. Write, Close and LocalAddr never
// wait for the header. Like net.Conn, Read and Write may run concurrently
// with each other but not with themselves.
type Conn struct {
	net.Conn
	o       *Options
	trusted bool
	br      *bufio.Reader

	ready  atomic.Bool
	mu     sync.Mutex // held while the header is read
	err    error
	hdr    *Header
	remote net.Addr

	dmu      sync.Mutex // guards deadline and inHeader
	deadline time.Time  // the application's read deadline
	inHeader bool
}

var (
	_ net.Conn      = (*Conn)(nil)
	_ io.WriterTo   = (*Conn)(nil)
	_ io.ReaderFrom = (*Conn)(nil)
)

func newConn(c net.Conn, o *Options, trusted bool) *Conn {
	return &Conn{Conn: c, o: o, trusted: trusted, br: bufio.NewReaderSize(c, connBuffer)}
}

// Read reads the header if it has not been read, then application data.
func (c *Conn) Read(p []byte) (int, error) {
	if err := c.ensure(); err != nil {
		return 0, err
	}
	if c.br.Buffered() > 0 {
		return c.br.Read(p)
	}
	return c.Conn.Read(p)
}

// WriteTo copies the application data to w until EOF: first the bytes
// buffered while reading the header, then the socket itself, so that
// io.Copy(upstreamTCP, c) still splices on Linux.
func (c *Conn) WriteTo(w io.Writer) (int64, error) {
	if err := c.ensure(); err != nil {
		return 0, err
	}
	var n int64
	if k := c.br.Buffered(); k > 0 {
		b, _ := c.br.Peek(k)
		m, err := w.Write(b)
		_, _ = c.br.Discard(m)
		n += int64(m)
		if err != nil {
			return n, err
		}
	}
	m, err := io.Copy(w, c.Conn)
	return n + m, err
}

// ReadFrom copies r to the socket, letting the socket splice when it can.
// Writing does not wait for the header.
func (c *Conn) ReadFrom(r io.Reader) (int64, error) { return io.Copy(c.Conn, r) }

// RemoteAddr returns the header's source for a trusted peer under Require
// or Use that sent a Proxy header with addresses, and the socket's peer
// address otherwise. Under Require and Use it waits for the header.
func (c *Conn) RemoteAddr() net.Addr {
	if !c.trusted || (c.o.Policy != Require && c.o.Policy != Use) {
		return c.Conn.RemoteAddr()
	}
	if c.ensure() != nil || c.remote == nil {
		return c.Conn.RemoteAddr()
	}
	return c.remote
}

// ProxyHeader waits for the header and returns it, or nil when none was
// sent, it was dropped (Ignore), or the connection was rejected.
func (c *Conn) ProxyHeader() *Header {
	if c.ensure() != nil {
		return nil
	}
	return c.hdr
}

// TCP reads the header if it has not been read, then returns the socket
// as a *net.TCPConn: nil for another kind, after a header error, and while
// c still holds bytes read past the header (reading the socket directly
// would skip them; WriteTo drains them first, then splices).
func (c *Conn) TCP() *net.TCPConn {
	if c.ensure() != nil || c.br.Buffered() > 0 {
		return nil
	}
	tc, _ := c.Conn.(*net.TCPConn)
	return tc
}

// CloseWrite shuts down the writing side of the socket (half-close).
func (c *Conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return fmt.Errorf("proxyproto: %T cannot half-close: %w", c.Conn, errors.ErrUnsupported)
}

// CloseRead shuts down the reading side of the socket.
func (c *Conn) CloseRead() error {
	if cr, ok := c.Conn.(interface{ CloseRead() error }); ok {
		return cr.CloseRead()
	}
	return fmt.Errorf("proxyproto: %T cannot half-close: %w", c.Conn, errors.ErrUnsupported)
}

// SetDeadline sets both deadlines; while the header is being read the read
// deadline is recorded and applied once the header is done.
func (c *Conn) SetDeadline(t time.Time) error {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	c.deadline = t
	if c.inHeader {
		return c.Conn.SetWriteDeadline(t)
	}
	return c.Conn.SetDeadline(t)
}

// SetReadDeadline sets the read deadline, deferred like SetDeadline's.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	c.deadline = t
	if c.inHeader {
		return nil
	}
	return c.Conn.SetReadDeadline(t)
}

// ensure reads the header once; callers that arrive meanwhile wait.
func (c *Conn) ensure() error {
	if c.ready.Load() {
		return c.err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.ready.Load() {
		c.err = c.process()
		c.ready.Store(true)
	}
	return c.err
}

// process runs the policy under the header deadline and closes the
// connection when the policy refuses it.
func (c *Conn) process() error {
	c.dmu.Lock()
	c.inHeader = true
	d := time.Now().Add(c.o.Timeout)
	if !c.deadline.IsZero() && c.deadline.Before(d) {
		d = c.deadline
	}
	serr := c.Conn.SetReadDeadline(d)
	c.dmu.Unlock()

	reason, err := ReasonReadError, serr
	if serr == nil {
		reason, err = c.decide()
	}

	c.dmu.Lock()
	c.inHeader = false
	_ = c.Conn.SetReadDeadline(c.deadline)
	c.dmu.Unlock()

	if reason == "" {
		return nil
	}
	if c.o.OnReject != nil {
		c.o.OnReject(reason)
	}
	_ = c.Conn.Close()
	if err != nil {
		return fmt.Errorf("%w: %s from %v: %w", ErrRejected, reason, c.Conn.RemoteAddr(), err)
	}
	return fmt.Errorf("%w: %s from %v", ErrRejected, reason, c.Conn.RemoteAddr())
}

// decide applies the policy and returns a reason when the connection must
// be closed. Untrusted peers and Reject are lenient about a stall inside a
// would-be signature: those bytes are plain data that happen to match.
func (c *Conn) decide() (Reason, error) {
	p := c.o.Policy
	if !c.trusted {
		p = c.o.Untrusted
	}
	v, err := detect(c.br)
	if err != nil {
		lenient := !c.trusted || p == Reject || (p != Require && c.br.Buffered() == 0)
		if isTimeout(err) && lenient {
			return "", nil
		}
		return reasonFor(err), err
	}
	switch {
	case v == 0 && p == Require:
		return ReasonMissing, nil
	case v == 0:
		return "", nil
	case p == Reject && c.trusted:
		return ReasonRefused, nil
	case p == Reject:
		return ReasonSpoofed, nil
	}
	h, err := readVersion(c.br, v)
	if err != nil {
		return reasonFor(err), err
	}
	if c.trusted && (p == Require || p == Use) {
		c.hdr, c.remote = h, h.remoteAddr()
	}
	return "", nil
}

func reasonFor(err error) Reason {
	switch {
	case isTimeout(err):
		return ReasonTimeout
	case errors.Is(err, ErrInvalid):
		return ReasonInvalid
	}
	return ReasonReadError
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// remoteAddr is the client address a Proxy header carries, or nil.
func (h *Header) remoteAddr() net.Addr {
	if h.Command != Proxy {
		return nil
	}
	switch h.Transport {
	case TCP4, TCP6:
		return net.TCPAddrFromAddrPort(h.Source)
	case UDP4, UDP6:
		return net.UDPAddrFromAddrPort(h.Source)
	case UnixStream:
		return &net.UnixAddr{Name: h.SourcePath, Net: "unix"}
	case UnixDgram:
		return &net.UnixAddr{Name: h.SourcePath, Net: "unixgram"}
	}
	return nil
}
