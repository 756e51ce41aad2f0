// Package peek learns what an accepted TCP connection speaks from one
// bounded read of its first bytes: a TLS ClientHello (SNI, ALPN, versions),
// an HTTP/1 request line, or the HTTP/2 prior-knowledge preface. The L4
// router calls Peek once per connection, picks a route from the Hello, and
// hands the connection on wrapped in a Conn that replays what was read.
package peek

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"
)

// Proto is what the first bytes of a connection look like.
type Proto uint8

// The protocols Peek tells apart.
const (
	Unknown Proto = iota // none of the below: route by port alone
	TLS                  // a TLS ClientHello
	HTTP1                // an HTTP/1.0 or HTTP/1.1 request line
	H2C                  // the HTTP/2 connection preface (RFC 9113 3.4)
)

func (p Proto) String() string {
	switch p {
	case TLS:
		return "tls"
	case HTTP1:
		return "http1"
	case H2C:
		return "h2c"
	}
	return "unknown"
}

// Hello is what Peek learned. Slices and strings are the caller's.
type Hello struct {
	Proto       Proto
	SNI         string   // lower case, no trailing dot; "" if none
	ALPN        []string // offered protocols, in order, GREASE left out
	TLSVersions []uint16 // supported_versions (GREASE left out), else legacy_version
	Method      string   // HTTP/1 method, when Proto == HTTP1
	Bytes       int      // how many bytes were read to decide
}

// Options bound a Peek. Zero fields take the defaults.
type Options struct {
	MaxBytes int           // most bytes read before deciding; default 16 KiB
	Timeout  time.Duration // from the call to the decision; default 5 s
}

// Defaults for zero Options fields.
const (
	DefaultMaxBytes = 16 << 10
	DefaultTimeout  = 5 * time.Second
)

// Errors callers test with errors.Is.
var (
	ErrTimeout    = errors.New("peek: no decision before the deadline")
	ErrIncomplete = errors.New("peek: connection ended before a decision")
	ErrTooLarge   = errors.New("peek: first message exceeds the byte limit")
	ErrMalformed  = errors.New("peek: malformed tls client_hello")
	ErrNeedMore   = errors.New("peek: client_hello incomplete")
	ErrNotTLS     = errors.New("peek: not a tls handshake record")
)

// firstRead is the size of the first read: one TLS record header, which
// is also enough to tell TLS from text.
const firstRead = recordHeaderLen

// Peek reads from c until it can tell what c speaks: a whole ClientHello
// (across TLS records and TCP segments, reading exactly its records), an
// HTTP/1 request line up to its CRLF, the 24-byte h2 preface, or a first
// byte that starts none of these (Unknown, with a nil error). Text is read
// in chunks, so the last read of a request line may hold bytes after its
// CRLF; they are returned with the rest.
//
// It reads at most o.MaxBytes and stops at the absolute deadline now +
// o.Timeout, then clears c's read deadline. It returns every byte it read,
// even on error, for the caller to replay (see NewConn). Errors wrap
// ErrTimeout, ErrIncomplete (EOF first), ErrTooLarge or ErrMalformed, or
// the socket's own error; Hello.Proto then tells what the bytes looked
// like so far. Peek blocks the calling goroutine; it never closes c.
func Peek(c net.Conn, o Options) (Hello, []byte, error) {
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if err := c.SetReadDeadline(time.Now().Add(o.Timeout)); err != nil {
		return Hello{}, nil, fmt.Errorf("peek: set deadline: %w", err)
	}
	p := peeker{c: c, max: o.MaxBytes, buf: make([]byte, 0, min(o.MaxBytes, 2048))}
	h, err := p.run()
	h.Bytes = len(p.buf)
	if derr := c.SetReadDeadline(time.Time{}); derr != nil && err == nil {
		err = fmt.Errorf("peek: clear deadline: %w", derr)
	}
	return h, p.buf, err
}

// peeker holds one Peek's buffer; buf only ever grows.
type peeker struct {
	c   net.Conn
	max int
	buf []byte
}

func (p *peeker) run() (Hello, error) {
	if err := p.readSome(min(firstRead, p.max)); err != nil {
		return Hello{}, err
	}
	switch b := p.buf[0]; {
	case b == recordTypeHS:
		return p.tls()
	case 'A' <= b && b <= 'Z':
		return p.http()
	}
	return Hello{}, nil
}

// tls reads the records of the ClientHello, exactly, and parses it.
func (p *peeker) tls() (Hello, error) {
	var w recordWalker
	for {
		want, err := w.next(p.buf)
		if err == ErrNotTLS {
			return Hello{}, nil
		}
		if err != nil {
			return Hello{Proto: TLS}, err
		}
		if want == 0 {
			break
		}
		if want > p.max || w.minTotal() > p.max {
			return Hello{Proto: TLS}, fmt.Errorf("%w: client_hello needs more than %d bytes", ErrTooLarge, p.max)
		}
		if err := p.fill(want); err != nil {
			return Hello{Proto: TLS}, err
		}
	}
	return parseMessage(w.message(p.buf))
}

// fill reads until buf holds n bytes, and no more.
func (p *peeker) fill(n int) error {
	p.grow(n)
	for len(p.buf) < n {
		if err := p.readSome(n); err != nil {
			return err
		}
	}
	return nil
}

// readSome does one successful read of at most limit-len(buf) bytes, making
// room first; a read of zero bytes with no error is retried.
func (p *peeker) readSome(limit int) error {
	p.grow(limit)
	for {
		n, err := p.c.Read(p.buf[len(p.buf):limit])
		p.buf = p.buf[:len(p.buf)+n]
		if n > 0 {
			return nil
		}
		if err != nil {
			return readErr(err, len(p.buf))
		}
	}
}

// readMore does one read into the spare room of buf, doubling it (up to
// max) when full, so chunked reads stay linear. Callers keep len(buf) < max.
func (p *peeker) readMore() error {
	if len(p.buf) == cap(p.buf) {
		p.grow(cap(p.buf) + 1)
	}
	return p.readSome(cap(p.buf))
}

// grow makes cap(buf) at least n (n <= max), at least doubling it so a
// hello in many small records is not copied over and over.
func (p *peeker) grow(n int) {
	if n <= cap(p.buf) {
		return
	}
	nb := make([]byte, len(p.buf), max(n, min(2*cap(p.buf), p.max)))
	copy(nb, p.buf)
	p.buf = nb
}

// readErr maps a read error to the package's sentinels.
func readErr(err error, have int) error {
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("%w: after %d bytes: %w", ErrTimeout, have, err)
	case errors.Is(err, io.EOF):
		return fmt.Errorf("%w: after %d bytes", ErrIncomplete, have)
	}
	return fmt.Errorf("peek: read: %w", err)
}
