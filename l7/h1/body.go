package h1

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// body wraps the request body framed by net/http. It answers
// Expect: 100-continue on the first read, tells the connReader when the
// body is consumed, and refuses reads once the handler has returned.
//
// Its counters are atomic so that the response side can look at them while
// another goroutine (a proxy's transport) is blocked in Read.
type body struct {
	src    io.ReadCloser
	w      *response
	cr     *connReader
	length int64 // Content-Length, -1 when chunked
	asked  bool  // the request has Expect: 100-continue

	mu     sync.Mutex // serialises reads with the close when the handler returns
	closed bool

	n         atomic.Int64
	eof       atomic.Bool
	expect    atomic.Bool // 100-continue asked for and not yet answered
	continued atomic.Bool // 100 Continue was sent
}

func newBody(req *http.Request, w *response) *body {
	b := &body{src: req.Body, w: w, cr: &w.c.cr, length: req.ContentLength}
	if v := req.Header["Expect"]; len(v) == 1 && req.ProtoAtLeast(1, 1) && strings.EqualFold(v[0], "100-continue") {
		b.asked = true
		b.expect.Store(true)
		w.canContinue.Store(true)
	}
	return b
}

// Read reads the body; the first read sends 100 Continue if it is due.
func (b *body) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, http.ErrBodyReadAfterClose
	}
	if b.eof.Load() {
		return 0, io.EOF
	}
	if b.expect.Load() {
		b.expect.Store(false)
		if b.w.writeContinue() {
			b.continued.Store(true)
		}
	}
	n, err := b.src.Read(p)
	b.n.Add(int64(n))
	if err == io.EOF {
		b.eof.Store(true)
		b.cr.bodyEOF()
	}
	return n, err
}

// Close marks the body closed for the handler; the server drains what is
// left after the handler returns.
func (b *body) Close() error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	return nil
}

// mustClose reports whether the connection cannot be kept once the
// response is sent: the client still waits for 100 Continue, or too much of
// the body is left to drain.
func (b *body) mustClose() bool {
	if b.eof.Load() {
		return false
	}
	if b.asked && !b.continued.Load() {
		return true
	}
	return b.length >= 0 && b.length-b.n.Load() > maxDrain
}

// drain runs after the handler: it closes the body to the handler and
// discards up to maxDrain bytes of what is left. It reports whether the
// body ended, so the connection can serve another request.
func (b *body) drain(c *conn) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	if b.eof.Load() {
		return true
	}
	if b.mustClose() {
		return false
	}
	if s := c.srv; s.ReadTimeout <= 0 && s.idleTimeout() > 0 {
		_ = c.rwc.SetReadDeadline(time.Now().Add(s.idleTimeout()))
	}
	_, err := io.CopyN(io.Discard, b.src, maxDrain+1)
	return err == io.EOF
}
