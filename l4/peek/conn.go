package peek

import (
	"errors"
	"fmt"
	"io"
	"net"
)

// Conn is a connection whose first bytes were consumed by Peek: Read
// returns them again before reading from the socket. Writes, deadlines and
// Close go straight to the wrapped conn. Like any net.Conn, one goroutine
// reads at a time; reads and writes may run concurrently.
type Conn struct {
	net.Conn
	peeked []byte // replay bytes not yet read
}

var (
	_ net.Conn                        = (*Conn)(nil)
	_ io.WriterTo                     = (*Conn)(nil)
	_ interface{ CloseWrite() error } = (*Conn)(nil)
)

// NewConn wraps c so that reads return peeked first; it keeps peeked, not
// a copy. Wrapping a *Conn that wraps a *net.TCPConn flattens the two (the
// replay bytes are joined), so TCP stays reachable.
func NewConn(c net.Conn, peeked []byte) *Conn {
	if inner, ok := c.(*Conn); ok && inner.TCP() != nil {
		// The new bytes were read from inner, so they come first, then
		// what inner still had, then the socket.
		joined := make([]byte, 0, len(peeked)+len(inner.peeked))
		joined = append(append(joined, peeked...), inner.peeked...)
		return &Conn{Conn: inner.Conn, peeked: joined}
	}
	return &Conn{Conn: c, peeked: peeked}
}

// Read returns replay bytes while any are left, then reads from the socket.
// The read that drains the replay returns only replay bytes.
func (c *Conn) Read(p []byte) (int, error) {
	if len(c.peeked) == 0 {
		return c.Conn.Read(p)
	}
	n := copy(p, c.peeked)
	c.peeked = c.peeked[n:]
	if len(c.peeked) == 0 {
		c.peeked = nil
	}
	return n, nil
}

// Buffered is how many replay bytes Read has yet to return.
func (c *Conn) Buffered() int { return len(c.peeked) }

// TCP returns the wrapped *net.TCPConn, or nil when c does not wrap one
// directly. Reading from it skips the replay: use it only once Buffered is
// zero (WriteTo does this for io.Copy).
func (c *Conn) TCP() *net.TCPConn {
	tc, _ := c.Conn.(*net.TCPConn)
	return tc
}

// NetConn returns the wrapped connection.
func (c *Conn) NetConn() net.Conn { return c.Conn }

// WriteTo writes the replay bytes to w, then copies the socket to w until
// EOF. When w is an io.ReaderFrom (a *net.TCPConn is) it is handed the raw
// *net.TCPConn, so the kernel moves the data with splice(2). io.Copy with
// a *Conn source calls this.
func (c *Conn) WriteTo(w io.Writer) (int64, error) {
	var total int64
	if len(c.peeked) > 0 {
		n, err := w.Write(c.peeked)
		total += int64(n)
		c.peeked = c.peeked[n:]
		if err != nil {
			return total, err
		}
		c.peeked = nil
	}
	var n int64
	var err error
	if rf, ok := w.(io.ReaderFrom); ok && c.TCP() != nil {
		n, err = rf.ReadFrom(c.TCP())
	} else {
		n, err = io.Copy(w, readerOnly{c.Conn})
	}
	return total + n, err
}

// readerOnly hides every method but Read, so io.Copy does not loop back
// into WriteTo.
type readerOnly struct{ io.Reader }

// CloseWrite half-closes the wrapped connection (sends FIN on TCP).
func (c *Conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return fmt.Errorf("peek: %T cannot half-close: %w", c.Conn, errors.ErrUnsupported)
}
