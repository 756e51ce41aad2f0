package proxy

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

var (
	errBodyClosed     = errors.New("proxy: read on closed response body")
	errMalformedChunk = errors.New("proxy: malformed chunked response body from upstream")
)

// drainMax and drainWait bound what Close reads of an unfinished body to
// keep its connection: a small rest that is already there or arrives at once.
const (
	drainMax  = 4 << 10
	drainWait = 5 * time.Millisecond
)

// h1Body streams one response body off its connection, which it owns until
// the body ends: then the connection goes back to the pool (a clean end
// that allows keep-alive) or is closed. It is used by one goroutine at a
// time; Read after Close fails.
type h1Body struct {
	c    *h1Conn // nil once the body has ended
	res  *http.Response
	kind bodyKind
	left int64 // bodyFixed: bytes left; bodyChunked: bytes left in the chunk
	crlf bool  // bodyChunked: the CRLF after a chunk's data is due
	keep bool  // the response allows keep-alive
	err  error // sticky
}

// Read reads body bytes; io.EOF only at a clean end of the framing.
func (b *h1Body) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	var n int
	var err error
	switch b.kind {
	case bodyFixed:
		n, err = b.readFixed(p)
	case bodyChunked:
		n, err = b.readChunked(p)
	default:
		n, err = b.c.br.Read(p)
	}
	if err != nil {
		b.end(err)
	}
	return n, b.err
}

// end records how the body ended and gives up its connection.
func (b *h1Body) end(err error) {
	c := b.c
	b.c = nil
	if err == io.EOF {
		b.err = io.EOF
		c.release(b.keep && b.kind != bodyClose)
		return
	}
	if err == errBodyClosed {
		b.err = err
	} else {
		b.err = c.failure(fmt.Errorf("proxy: reading upstream response body: %w", err))
	}
	c.release(false)
}

// Close ends the body. Unless the body has ended, a small rest that can
// be read at once is drained so the connection can be reused; otherwise
// the connection is closed.
func (b *h1Body) Close() error {
	if b.c == nil {
		b.err = errBodyClosed
		return nil
	}
	if b.keep && b.kind != bodyClose && (b.kind == bodyChunked || b.left <= drainMax) && b.c.ctxAlive() {
		b.drain()
	}
	if b.c != nil {
		b.end(errBodyClosed)
	}
	b.err = errBodyClosed
	return nil
}

// drain reads up to drainMax bytes, waiting at most drainWait for them.
func (b *h1Body) drain() {
	if b.c.br.Buffered() < int(b.left) || b.kind == bodyChunked {
		if b.c.conn.SetReadDeadline(time.Now().Add(drainWait)) != nil {
			return
		}
		b.c.deadline = true
	}
	var buf [512]byte
	for total := 0; total < drainMax && b.c != nil; {
		n, err := b.Read(buf[:])
		total += n
		if err != nil {
			return
		}
	}
}

func (b *h1Body) readFixed(p []byte) (int, error) {
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.c.br.Read(p)
	b.left -= int64(n)
	if b.left == 0 {
		return n, io.EOF
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// readChunked reads chunk data; after the last chunk it reads the trailer
// block into res.Trailer (RFC 9112 7.1).
func (b *h1Body) readChunked(p []byte) (int, error) {
	br := b.c.br
	if b.left == 0 {
		if b.crlf {
			if c1, err := br.ReadByte(); err != nil || c1 != '\r' {
				return 0, chunkErr(err)
			}
			if c2, err := br.ReadByte(); err != nil || c2 != '\n' {
				return 0, chunkErr(err)
			}
			b.crlf = false
		}
		line, err := br.ReadSlice('\n')
		if err != nil {
			return 0, chunkErr(err)
		}
		size, ok := parseChunkSize(line)
		if !ok {
			return 0, errMalformedChunk
		}
		if size == 0 {
			return 0, b.readTrailer()
		}
		b.left = size
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := br.Read(p)
	b.left -= int64(n)
	if b.left == 0 {
		b.crlf = true
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// chunkErr reports a failed read of chunk framing: EOF there is a cut
// body, a wrong byte a malformed one.
func chunkErr(err error) error {
	switch {
	case err == nil:
		return errMalformedChunk
	case err == io.EOF:
		return io.ErrUnexpectedEOF
	}
	return err
}

// parseChunkSize parses "hex[;ext]CRLF": 1 to 15 hex digits, optional
// whitespace before extensions, which are skipped but must be free of
// control characters.
func parseChunkSize(line []byte) (int64, bool) {
	n := len(line)
	if n < 3 || line[n-2] != '\r' {
		return 0, false
	}
	line = line[:n-2]
	var size int64
	i := 0
	for ; i < len(line) && i < 16; i++ {
		d, ok := hexDigit(line[i])
		if !ok {
			break
		}
		size = size<<4 | int64(d)
	}
	if i == 0 || i == 16 {
		return 0, false
	}
	rest := line[i:]
	for len(rest) > 0 && (rest[0] == ' ' || rest[0] == '\t') {
		rest = rest[1:]
	}
	if len(rest) > 0 && (rest[0] != ';' || !validText(string(rest))) {
		return 0, false
	}
	return size, true
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// readTrailer reads the trailer block after the last chunk into
// res.Trailer, creating it for undeclared trailers; io.EOF on success.
func (b *h1Body) readTrailer() error {
	c := b.c
	buf, err := readBlock(c.br, c.scratch[:0], maxHeadBytes)
	c.keepScratch(buf)
	if err != nil {
		return chunkErr(err)
	}
	if len(buf) == 0 {
		return io.EOF
	}
	block := string(buf)
	if b.res.Trailer == nil {
		b.res.Trailer = make(http.Header)
	}
	t := b.res.Trailer
	if err := parseFields(block, t, make([]string, strings.Count(block, "\n"))); err != nil {
		return err
	}
	delete(t, "Content-Length")
	delete(t, "Transfer-Encoding")
	delete(t, "Trailer")
	return io.EOF
}
