package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"

	"golang.org/x/net/http/httpguts"
)

// bwPool holds the writers request heads and bodies go through.
var bwPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 4<<10) }}

func getWriter(w io.Writer) *bufio.Writer {
	bw := bwPool.Get().(*bufio.Writer)
	bw.Reset(w)
	return bw
}

func putWriter(bw *bufio.Writer) {
	bw.Reset(nil)
	bwPool.Put(bw)
}

// writeHead writes and flushes req's head: the request line with the
// origin-form target of req.URL, Host from req.Host, the framing of the
// body (Content-Length when known, else chunked), then req.Header as
// given but for the fields the framing owns. Nothing else is added.
// Errors wrapping errBadRequestHead are requests that cannot be sent.
func writeHead(bw *bufio.Writer, req *http.Request, hasBody bool) error {
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	if !httpguts.ValidHostHeader(host) || !httpguts.ValidHeaderFieldName(req.Method) {
		return fmt.Errorf("%w: bad method or host", errBadRequestHead)
	}
	_, _ = bw.WriteString(req.Method)
	_ = bw.WriteByte(' ')
	if err := writeTarget(bw, req.URL); err != nil {
		return err
	}
	_, _ = bw.WriteString(" HTTP/1.1\r\nHost: ")
	_, _ = bw.WriteString(host)
	_, _ = bw.WriteString("\r\n")
	if req.Close {
		_, _ = bw.WriteString("Connection: close\r\n")
	}
	switch {
	case hasBody && req.ContentLength > 0:
		_, _ = bw.WriteString("Content-Length: ")
		_, _ = bw.Write(strconv.AppendInt(bw.AvailableBuffer(), req.ContentLength, 10))
		_, _ = bw.WriteString("\r\n")
	case hasBody:
		_, _ = bw.WriteString("Transfer-Encoding: chunked\r\n")
		writeTrailerNames(bw, req.Trailer)
	case req.Method == http.MethodPost || req.Method == http.MethodPut || req.Method == http.MethodPatch:
		_, _ = bw.WriteString("Content-Length: 0\r\n")
	}
	if err := writeFields(bw, req.Header, true); err != nil {
		return err
	}
	_, _ = bw.WriteString("\r\n")
	return bw.Flush()
}

// writeTarget writes u's path and query (RFC 9112 3.2.1).
func writeTarget(bw *bufio.Writer, u *url.URL) error {
	if u.Opaque != "" {
		t := u.RequestURI()
		if !validTarget(t) {
			return fmt.Errorf("%w: bad request target", errBadRequestHead)
		}
		_, _ = bw.WriteString(t)
		return nil
	}
	p := u.EscapedPath()
	if p == "" {
		p = "/"
	}
	if !validTarget(p) || !validTarget(u.RawQuery) {
		return fmt.Errorf("%w: bad request target", errBadRequestHead)
	}
	_, _ = bw.WriteString(p)
	if u.ForceQuery || u.RawQuery != "" {
		_ = bw.WriteByte('?')
		_, _ = bw.WriteString(u.RawQuery)
	}
	return nil
}

// validTarget reports whether s has no whitespace or control characters.
func validTarget(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == 0x7f {
			return false
		}
	}
	return true
}

// writeFields writes h's fields; in a head, the fields the framing owns
// are left out. Names and values are checked so nothing can split the
// message.
func writeFields(bw *bufio.Writer, h http.Header, head bool) error {
	for k, vv := range h {
		if head && (k == "Host" || k == "Content-Length" || k == "Transfer-Encoding" || k == "Trailer") {
			continue
		}
		if !head && framingField(k) {
			continue
		}
		if !httpguts.ValidHeaderFieldName(k) {
			return fmt.Errorf("%w: bad field name %q", errBadRequestHead, k)
		}
		for _, v := range vv {
			if !httpguts.ValidHeaderFieldValue(v) {
				return fmt.Errorf("%w: bad value of field %q", errBadRequestHead, k)
			}
			_, _ = bw.WriteString(k)
			_, _ = bw.WriteString(": ")
			_, _ = bw.WriteString(v)
			_, _ = bw.WriteString("\r\n")
		}
	}
	return nil
}

// writeTrailerNames announces request trailers.
func writeTrailerNames(bw *bufio.Writer, t http.Header) {
	sep := "Trailer: "
	for k := range t {
		if httpguts.ValidHeaderFieldName(k) && !framingField(k) {
			_, _ = bw.WriteString(sep)
			_, _ = bw.WriteString(k)
			sep = ", "
		}
	}
	if sep != "Trailer: " {
		_, _ = bw.WriteString("\r\n")
	}
}

// writeBody runs on its own goroutine: it sends req's body through bw,
// then records the outcome in c.wstate. A client body that fails (too
// large, cut) closes the connection so the upstream does not wait for
// the rest; the exchange then reports c.bodyErr.
func (c *h1Conn) writeBody(req *http.Request, bw *bufio.Writer) {
	state, err := copyRequestBody(bw, req)
	putWriter(bw)
	_ = req.Body.Close()
	if state == writeBodyFailed {
		c.bodyErr = err
		c.wstate.Store(state)
		c.close()
	} else {
		c.wstate.Store(state)
	}
	c.wdone <- struct{}{}
}

// copyRequestBody sends the body, each read flushed at once so streams
// are not held back: Content-Length bytes, or chunks and the trailers.
func copyRequestBody(bw *bufio.Writer, req *http.Request) (int32, error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	cl, chunked := req.ContentLength, req.ContentLength <= 0
	var sent int64
	for chunked || sent < cl {
		if !chunked && cl-sent < int64(len(buf)) {
			buf = buf[:cl-sent]
		}
		n, rerr := req.Body.Read(buf)
		if n > 0 {
			if err := writeChunk(bw, buf[:n], chunked); err != nil {
				return writeFailed, err
			}
			sent += int64(n)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return writeBodyFailed, rerr
		}
	}
	if !chunked && sent < cl {
		return writeBodyFailed, fmt.Errorf("proxy: request body ended after %d of %d bytes: %w", sent, cl, io.ErrUnexpectedEOF)
	}
	if chunked {
		_, _ = bw.WriteString("0\r\n")
		if err := writeFields(bw, req.Trailer, false); err != nil {
			return writeBodyFailed, err
		}
		_, _ = bw.WriteString("\r\n")
		if err := bw.Flush(); err != nil {
			return writeFailed, err
		}
	}
	return writeDone, nil
}

// writeChunk writes p (as one chunk when chunked) and flushes.
func writeChunk(bw *bufio.Writer, p []byte, chunked bool) error {
	if chunked {
		_, _ = bw.Write(strconv.AppendInt(bw.AvailableBuffer(), int64(len(p)), 16))
		_, _ = bw.WriteString("\r\n")
	}
	_, _ = bw.Write(p)
	if chunked {
		_, _ = bw.WriteString("\r\n")
	}
	return bw.Flush()
}
