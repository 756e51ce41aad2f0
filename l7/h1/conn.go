package h1

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"time"
)

// bufSize is the size of the pooled read and write buffers.
const bufSize = 4 << 10

// maxDrain is how much of an unread request body is discarded to keep the
// connection; a longer rest closes it (net/http's rule).
const maxDrain = 256 << 10

var (
	readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, bufSize) }}
	writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, bufSize) }}
	// bodyPool holds the buffers a response collects a small body in.
	bodyPool = sync.Pool{New: func() any { b := make([]byte, 0, bufSize); return &b }}
)

// conn is one served connection. Its fields are used by its own goroutine
// only, except state (Server.mu) and what connReader guards.
type conn struct {
	srv    *Server
	rwc    net.Conn
	remote string
	ctx    context.Context
	cr     connReader
	br     *bufio.Reader
	bw     *bufio.Writer  // writes to out
	out    progressWriter // rwc, with the progress deadline (progress.go)
	res    response
	state  connState
	served int // requests served
}

func newConn(s *Server, rwc net.Conn) *conn {
	c := &conn{srv: s, rwc: rwc}
	c.out.conn, c.out.timeout = rwc, s.writeProgressTimeout()
	c.cr.init(rwc)
	c.res.c = c
	return c
}

// serve runs the request loop until the connection closes or is hijacked.
func (c *conn) serve() {
	c.remote = c.rwc.RemoteAddr().String()
	c.ctx = context.Background()
	if f := c.srv.ConnContext; f != nil {
		c.ctx = f(c.ctx, c.rwc)
	}
	c.br = readerPool.Get().(*bufio.Reader)
	c.br.Reset(&c.cr)
	c.bw = writerPool.Get().(*bufio.Writer)
	c.bw.Reset(&c.out)
	hijacked := false
	defer func() {
		if !hijacked {
			c.close()
		}
	}()
	for {
		req, err := c.readRequest()
		if err != nil {
			if errors.Is(err, errHeadTooLarge) {
				_, _ = io.WriteString(&c.out, headTooLarge)
			}
			return
		}
		keep, hj := c.serveOne(req)
		if hj {
			hijacked = true
			return
		}
		if !keep || !c.srv.setState(c, stateIdle) {
			return
		}
	}
}

// close ends a connection that was not hijacked and recycles its buffers.
func (c *conn) close() {
	c.cr.endRequest()
	c.srv.untrack(c)
	_ = c.rwc.Close()
	if b := c.res.body; b != nil {
		_ = b.Close() // waits out a read in another goroutine before the buffers are recycled
	}
	c.br.Reset(nil)
	readerPool.Put(c.br)
	c.bw.Reset(nil)
	writerPool.Put(c.bw)
	c.res.header = nil
	if b := c.res.buf; b != nil {
		b = b[:0]
		bodyPool.Put(&b)
		c.res.buf = nil
	}
}

// readRequest waits for the next request and reads its head. The wait for
// a later request is bounded by IdleTimeout; reading a head that is not
// yet whole in the buffer by ReadHeaderTimeout.
func (c *conn) readRequest() (*http.Request, error) {
	s := c.srv
	wait := s.ReadHeaderTimeout
	if c.served > 0 {
		wait = s.idleTimeout()
	}
	deadline := wait > 0
	if deadline {
		_ = c.rwc.SetReadDeadline(time.Now().Add(wait))
	}
	c.cr.setLimit(s.maxHeaderBytes() + bufSize)
	if _, err := c.br.Peek(1); err != nil {
		return nil, err
	}
	t0 := time.Now()
	if !s.setState(c, stateActive) {
		return nil, net.ErrClosed
	}
	if c.served > 0 && s.ReadHeaderTimeout > 0 && !headBuffered(c.br) {
		deadline = true
		_ = c.rwc.SetReadDeadline(t0.Add(s.ReadHeaderTimeout))
	}
	req, err := http.ReadRequest(c.br)
	c.cr.setLimit(-1)
	if err != nil {
		if c.cr.hitLimit() {
			return nil, errHeadTooLarge
		}
		return nil, err
	}
	c.served++
	switch {
	case s.ReadTimeout > 0:
		_ = c.rwc.SetReadDeadline(t0.Add(s.ReadTimeout))
	case req.Body != http.NoBody && deadline:
		_ = c.rwc.SetReadDeadline(time.Time{}) // bodies stream without limit
	}
	if s.WriteTimeout > 0 {
		_ = c.rwc.SetWriteDeadline(time.Now().Add(s.WriteTimeout))
	}
	delete(req.Header, "Host") // req.Host has it, as net/http's server does
	req.RemoteAddr = c.remote
	return req, nil
}

// headBuffered reports whether a whole request head is already buffered.
func headBuffered(br *bufio.Reader) bool {
	b, _ := br.Peek(br.Buffered())
	return bytes.Contains(b, []byte("\r\n\r\n"))
}

// serveOne runs the handler for req and finishes its response. keep tells
// whether the connection may serve another request; hijacked that the
// handler took it over.
func (c *conn) serveOne(req *http.Request) (keep, hijacked bool) {
	ctx, cancel := context.WithCancel(c.ctx)
	defer cancel()
	req = req.WithContext(ctx)
	w := &c.res
	w.reset(req)
	if !expectOK(req) {
		w.closeAfter = true
		w.WriteHeader(http.StatusExpectationFailed)
		_ = w.finish()
		return false, false
	}
	var b *body
	if req.Body != http.NoBody {
		b = newBody(req, w)
		req.Body = b
		w.body = b
	}
	c.cr.startRequest(cancel, b == nil)
	c.out.resume()
	ok := c.runHandler(w, req)
	if w.hijacked {
		return false, true
	}
	c.cr.endRequest()
	if !ok {
		return false, false
	}
	if err := w.finish(); err != nil || w.closeAfter {
		return false, false
	}
	if b != nil && !b.drain(c) {
		return false, false
	}
	return !c.srv.noKeepAlive.Load(), false
}

// runHandler calls the handler and reports whether it returned normally.
// A panic with http.ErrAbortHandler is silent; others are logged.
func (c *conn) runHandler(w *response, req *http.Request) (ok bool) {
	defer func() {
		if p := recover(); p != nil {
			ok = false
			if w.hijacked {
				return // the handler owns the connection (as net/http)
			}
			if p != http.ErrAbortHandler { // compared by identity, as net/http does
				buf := make([]byte, 16<<10)
				buf = buf[:runtime.Stack(buf, false)]
				c.srv.logger().Error("h1: handler panic", "remote", c.remote, "panic", p, "stack", string(buf))
			}
		}
	}()
	c.srv.Handler.ServeHTTP(w, req)
	return true
}

// expectOK reports whether req's Expect field, if any, is one this server
// meets (only 100-continue, RFC 9110 section 10.1.1).
func expectOK(req *http.Request) bool {
	v, ok := req.Header["Expect"]
	if !ok {
		return true
	}
	return len(v) == 1 && strings.EqualFold(v[0], "100-continue")
}

// hijack hands the connection to the handler: background reads stop,
// deadlines are cleared and no longer armed (the buffered writer, empty
// by now, writes straight to the connection), and the server forgets it.
func (c *conn) hijack() (net.Conn, *bufio.ReadWriter) {
	c.cr.endRequest()
	c.bw.Reset(c.rwc)
	_ = c.rwc.SetDeadline(time.Time{})
	c.srv.untrack(c)
	return c.rwc, bufio.NewReadWriter(c.br, c.bw)
}

var errHeadTooLarge = errors.New("h1: request head too large")

// headTooLarge is the answer to a head over the limit, in the JSON shape
// of every error the gateway writes (the strict parser in front usually
// refuses such a head first, with the same body).
const headTooLarge = "HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n" +
	"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n" +
	`{"error":{"status":431,"code":"REQUEST_HEADER_FIELDS_TOO_LARGE","message":"request head too large"}}`
