package h1

import (
	"bufio"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// response is the http.ResponseWriter of one request. It is used by the
// handler's goroutine only (as net/http's), except writeContinue, which a
// body reader may call from another goroutine.
//
// The body is held in buf until it outgrows it, the handler flushes, or the
// handler returns; a body that ends inside buf gets a Content-Length, a
// longer one of unknown length is chunked.
type response struct {
	c      *conn
	req    *http.Request
	body   *body // nil when the request has none
	header http.Header
	buf    []byte

	status     int   // final status (or 101); 0 until WriteHeader
	clen       int64 // declared Content-Length; -1: none
	written    int64 // body bytes accepted from the handler
	headSent   bool
	chunked    bool
	closeAfter bool // close the connection after this response
	isHead     bool
	hijacked   bool

	contMu      sync.Mutex // serialises 100 Continue with the first head written
	canContinue atomic.Bool
}

var (
	_ http.ResponseWriter = (*response)(nil)
	_ http.Flusher        = (*response)(nil)
	_ http.Hijacker       = (*response)(nil)
)

// reset prepares the reused response for req.
func (w *response) reset(req *http.Request) {
	if w.header == nil {
		w.header = make(http.Header)
	} else {
		clear(w.header)
	}
	if w.buf == nil {
		w.buf = *bodyPool.Get().(*[]byte) // back to the pool when the connection closes
	}
	*w = response{c: w.c, req: req, header: w.header, buf: w.buf[:0], clen: -1,
		closeAfter: req.Close, isHead: req.Method == http.MethodHead}
}

// Header returns the response header; a nil Content-Type slot means that
// no Content-Type is sent (none is ever guessed).
func (w *response) Header() http.Header { return w.header }

// WriteHeader sends an informational (1xx) head at once, any number of
// times; 101 is sent at once too and leaves the connection to Hijack.
// The first other code becomes the final status; later calls are ignored.
func (w *response) WriteHeader(code int) {
	if w.hijacked || w.status != 0 {
		return
	}
	if code < 100 || code > 999 {
		panic("h1: invalid WriteHeader code " + strconv.Itoa(code)) // a handler bug, as in net/http
	}
	if code < 200 {
		w.writeInformational(code)
		return
	}
	w.status = code
	if w.canContinue.Load() {
		w.contMu.Lock()
		w.canContinue.Store(false)
		w.contMu.Unlock()
	}
	if cl, ok := w.header["Content-Length"]; ok {
		v, err := strconv.ParseInt(firstValue(cl), 10, 64)
		if err != nil || v < 0 {
			delete(w.header, "Content-Length")
		} else {
			w.clen = v
		}
	}
}

// writeInformational writes a 1xx head and flushes it. After 101 the
// handler is expected to hijack; if it does not, the connection closes.
func (w *response) writeInformational(code int) {
	w.contMu.Lock()
	defer w.contMu.Unlock()
	if code == http.StatusSwitchingProtocols {
		w.status, w.headSent, w.closeAfter = code, true, true
		w.canContinue.Store(false)
	}
	bw := w.c.bw
	writeStatusLine(bw, code)
	writeFields(bw, w.header, code)
	_, _ = bw.WriteString("\r\n")
	_ = bw.Flush()
}

// writeContinue sends 100 Continue unless a final head came first; it
// reports whether it did.
func (w *response) writeContinue() bool {
	if !w.canContinue.Load() {
		return false
	}
	w.contMu.Lock()
	defer w.contMu.Unlock()
	if !w.canContinue.Load() {
		return false
	}
	w.canContinue.Store(false)
	bw := w.c.bw
	_, _ = bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
	return bw.Flush() == nil
}

// Write adds p to the body; see the type comment for how it is framed.
// Writing more than a declared Content-Length fails with
// http.ErrContentLength; a HEAD response counts the bytes and sends none.
func (w *response) Write(p []byte) (int, error) {
	if w.hijacked {
		return 0, http.ErrHijacked
	}
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	if w.clen >= 0 && w.written+int64(len(p)) > w.clen {
		return 0, http.ErrContentLength
	}
	w.written += int64(len(p))
	if w.isHead {
		return len(p), nil
	}
	if !w.headSent {
		if len(w.buf)+len(p) <= cap(w.buf) {
			w.buf = append(w.buf, p...)
			return len(p), nil
		}
		if err := w.sendHead(false); err != nil {
			return 0, err
		}
	}
	return w.writeBody(p)
}

// WriteString is Write without a conversion for io.WriteString callers.
func (w *response) WriteString(s string) (int, error) {
	if w.status == 0 && !w.hijacked {
		w.WriteHeader(http.StatusOK)
	}
	if !w.headSent && !w.isHead && !w.hijacked && len(w.buf)+len(s) <= cap(w.buf) &&
		bodyAllowed(w.status) && (w.clen < 0 || w.written+int64(len(s)) <= w.clen) {
		w.buf = append(w.buf, s...)
		w.written += int64(len(s))
		return len(s), nil
	}
	return w.Write([]byte(s))
}

// Flush sends the head and the held body now (chunked if the length is
// unknown); it implements http.Flusher.
func (w *response) Flush() { _ = w.FlushError() }

// FlushError is Flush with its error, for http.ResponseController.
func (w *response) FlushError() error {
	if w.hijacked {
		return http.ErrHijacked
	}
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !w.headSent {
		if err := w.sendHead(false); err != nil {
			return err
		}
	}
	return w.c.bw.Flush()
}

// Hijack hands the connection over: what the response holds is flushed,
// the returned ReadWriter holds any request bytes already buffered, and
// the server no longer touches the connection.
func (w *response) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.hijacked {
		return nil, nil, http.ErrHijacked
	}
	if w.status != 0 && !w.headSent {
		if err := w.sendHead(false); err != nil {
			return nil, nil, err
		}
	}
	if err := w.c.bw.Flush(); err != nil {
		return nil, nil, err
	}
	w.hijacked = true
	rwc, brw := w.c.hijack()
	return rwc, brw, nil
}

// SetReadDeadline sets the connection's read deadline (ResponseController).
func (w *response) SetReadDeadline(t time.Time) error { return w.c.rwc.SetReadDeadline(t) }

// SetWriteDeadline sets the connection's write deadline
// (ResponseController). It replaces the progress deadline (progress.go)
// until the request ends.
func (w *response) SetWriteDeadline(t time.Time) error {
	w.c.out.pause()
	return w.c.rwc.SetWriteDeadline(t)
}

// EnableFullDuplex is a no-op: the body may always be read while the
// response is written.
func (w *response) EnableFullDuplex() error { return nil }

// finish completes the response after the handler returned: the head if
// still held, the last chunk and trailers, and a flush.
func (w *response) finish() error {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !w.headSent {
		if err := w.sendHead(true); err != nil {
			return err
		}
	}
	if w.chunked {
		_, _ = w.c.bw.WriteString("0\r\n")
		writeTrailers(w.c.bw, w.header)
		_, _ = w.c.bw.WriteString("\r\n")
	}
	if w.clen >= 0 && w.written < w.clen && bodyAllowed(w.status) && !w.isHead {
		w.closeAfter = true // the body is short of its Content-Length
	}
	return w.c.bw.Flush()
}

// writeBody writes p after the head, as a chunk when chunked.
func (w *response) writeBody(p []byte) (int, error) {
	bw := w.c.bw
	if !w.chunked {
		return bw.Write(p)
	}
	if len(p) == 0 {
		return 0, nil
	}
	_, _ = bw.Write(strconv.AppendInt(bw.AvailableBuffer(), int64(len(p)), 16))
	_, _ = bw.WriteString("\r\n")
	n, err := bw.Write(p)
	if err == nil {
		_, err = bw.WriteString("\r\n")
	}
	return n, err
}

func firstValue(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// bodyAllowed reports whether a response with status may have a body
// (RFC 9110 sections 15.2, 15.3.5, 15.4.5).
func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}
