package h2

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bouncer-proxy/bouncer/l7/internal/hdrkey"
	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// responseWriter is a stream's http.ResponseWriter. Body bytes are kept
// until a flush, until they fill a frame, or until the handler returns;
// a response written whole by then leaves as HEADERS, DATA and trailers in
// one write, with a Content-Length.
type responseWriter struct {
	st          *stream
	header      http.Header
	status      int
	wroteHeader bool // a final status is set
	sentHeader  bool // its HEADERS are on the wire
	ended       bool // END_STREAM sent
	buf         []byte
	written     int64
	trailers    []string // declared in the Trailer header before WriteHeader
}

// bufferLimit is how many body bytes a response holds before sending.
const bufferLimit = 16 << 10

var (
	_ http.ResponseWriter = (*responseWriter)(nil)
	_ http.Flusher        = (*responseWriter)(nil)
)

func (w *responseWriter) Header() http.Header { return w.header }

// WriteHeader sets the status; 1xx codes (but 101) are sent at once as
// informational responses, and may be followed by a final one.
func (w *responseWriter) WriteHeader(code int) {
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if w.wroteHeader {
		return
	}
	if code < 200 && code != http.StatusSwitchingProtocols {
		if !w.st.aborted.Load() {
			_ = w.writeFrames(code, w.header, nil, nil, false, false)
		}
		return
	}
	w.status, w.wroteHeader = code, true
	w.st.noContinue.Store(true)
	for _, v := range w.header["Trailer"] {
		for _, k := range strings.Split(v, ",") {
			if k = strings.TrimSpace(k); k != "" {
				w.trailers = append(w.trailers, http.CanonicalHeaderKey(k))
			}
		}
	}
}

// writeContinue answers Expect: 100-continue when the body is first read,
// unless a final status was set. The body may be read on a goroutine of
// its own (a proxy's transport does) while the handler answers, so the
// check is made under the write lock: a 100 never follows the final
// HEADERS.
func (w *responseWriter) writeContinue() {
	st := w.st
	if st.noContinue.Load() {
		return
	}
	_ = st.sc.writeLocked(func() error {
		if st.noContinue.Load() || st.aborted.Load() {
			return nil
		}
		return st.sc.writeHeaderBlock(st.id, st.sc.encodeHeaders(http.StatusContinue, nil), false)
	})
}

func (w *responseWriter) bodyAllowed() bool {
	return w.st.req.Method != http.MethodHead && bodyAllowedForStatus(w.status)
}

func bodyAllowedForStatus(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	switch {
	case !bodyAllowedForStatus(w.status):
		return 0, http.ErrBodyNotAllowed
	case w.st.aborted.Load():
		return 0, errStreamReset
	case w.st.req.Method == http.MethodHead:
		return len(p), nil
	}
	w.written += int64(len(p))
	if len(w.buf)+len(p) > bufferLimit && len(w.buf) > 0 {
		if err := w.FlushError(); err != nil {
			return 0, err
		}
	}
	if len(p) >= bufferLimit {
		return len(p), w.send(p, false)
	}
	w.buf = append(w.buf, p...)
	return len(p), nil
}

// Flush sends what is buffered, headers first.
func (w *responseWriter) Flush() { _ = w.FlushError() }

// FlushError is Flush reporting a reset stream or a broken connection.
func (w *responseWriter) FlushError() error {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	buf := w.buf
	w.buf = w.buf[:0]
	return w.send(buf, false)
}

// EnableFullDuplex is always true of HTTP/2 (http.ResponseController).
func (w *responseWriter) EnableFullDuplex() error { return nil }

// send writes the headers if they are not out yet, then p; end ends the
// stream (with the trailers when there are any).
func (w *responseWriter) send(p []byte, end bool) error {
	if w.ended {
		return nil
	}
	var trailers http.Header
	if end {
		trailers = w.collectTrailers()
	}
	var h http.Header
	if !w.sentHeader {
		h = w.header
		if end && w.bodyAllowed() && len(trailers) == 0 {
			if _, ok := h["Content-Length"]; !ok {
				h["Content-Length"] = []string{strconv.Itoa(len(p))}
			}
		}
		if _, ok := h["Content-Type"]; !ok && len(p) > 0 && w.bodyAllowed() {
			h["Content-Type"] = []string{http.DetectContentType(p)}
		}
		w.sentHeader = true
	}
	w.ended = end
	return w.writeFrames(w.status, h, p, trailers, end, true) // h nil: headers already sent
}

// finish completes the response after the handler returned.
func (w *responseWriter) finish() {
	if w.st.aborted.Load() {
		return
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	_ = w.send(w.buf, true)
	w.buf = nil
}

// collectTrailers gathers the trailers: declared ones with a value, and
// any set with http.TrailerPrefix.
func (w *responseWriter) collectTrailers() http.Header {
	var t http.Header
	for _, k := range w.trailers {
		if v, ok := w.header[k]; ok && len(v) > 0 {
			if t == nil {
				t = http.Header{}
			}
			t[k] = v
		}
	}
	for k, v := range w.header {
		if name, ok := strings.CutPrefix(k, http.TrailerPrefix); ok && len(v) > 0 {
			if t == nil {
				t = http.Header{}
			}
			t[http.CanonicalHeaderKey(name)] = v
		}
	}
	return t
}

// writeFrames writes a response part: the header block of status and h
// when final is false or h is not nil, then data within the flow-control
// windows, then, with end, the trailers and END_STREAM.
func (w *responseWriter) writeFrames(status int, h http.Header, data []byte, trailers http.Header, end, final bool) error {
	st := w.st
	sc := st.sc
	headers := !final || h != nil
	for {
		n := 0
		if len(data) > 0 {
			n = sc.takeSendWindow(st, len(data), !headers)
			if n == 0 && !headers {
				return errStreamReset
			}
		}
		chunk := data[:n]
		data = data[n:]
		last := len(data) == 0
		err := sc.writeLocked(func() error {
			if st.aborted.Load() {
				return errStreamReset
			}
			if headers {
				headEnd := end && last && n == 0 && len(trailers) == 0
				if err := sc.writeHeaderBlock(st.id, sc.encodeHeaders(status, h), headEnd); err != nil {
					return err
				}
			}
			if n > 0 || (end && last && len(trailers) == 0 && !headers) {
				if err := sc.fr.WriteData(st.id, end && last && len(trailers) == 0, chunk); err != nil {
					return err
				}
			}
			if end && last {
				// Marked before the flush: a client that answers the
				// END_STREAM finds the stream closed.
				st.mu.Lock()
				st.sentEnd = true
				st.mu.Unlock()
			}
			if end && last && len(trailers) > 0 {
				return sc.writeHeaderBlock(st.id, sc.encodeHeaders(0, trailers), true)
			}
			return nil
		})
		if err != nil {
			return err
		}
		headers = false
		if last {
			return nil
		}
	}
}

// writeLocked runs fn under the write lock and flushes.
func (sc *conn) writeLocked(fn func() error) error {
	return sc.write(func(*http2.Framer) error { return fn() })
}

// writeHeaderBlock writes a header block as HEADERS and CONTINUATION
// frames no larger than the client reads (wmu held).
func (sc *conn) writeHeaderBlock(id uint32, block []byte, end bool) error {
	sc.mu.Lock()
	max := sc.peerFrame
	sc.mu.Unlock()
	first := true
	for first || len(block) > 0 {
		chunk := block
		if len(chunk) > max {
			chunk = chunk[:max]
		}
		block = block[len(chunk):]
		var err error
		if first {
			err = sc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: chunk, EndStream: end, EndHeaders: len(block) == 0})
		} else {
			err = sc.fr.WriteContinuation(id, len(block) == 0, chunk)
		}
		if err != nil {
			return err
		}
		first = false
	}
	return nil
}

// encodeHeaders HPACK-encodes a response header block (status > 0) or
// trailers (status 0), wmu held. Connection-specific fields and fields
// that are not valid HTTP are left out; a response without Date gets one.
func (sc *conn) encodeHeaders(status int, h http.Header) []byte {
	sc.hbuf.Reset()
	if status > 0 {
		_ = sc.henc.WriteField(hpack.HeaderField{Name: ":status", Value: statusText(status)})
	}
	for k, vv := range h {
		if skipResponseField[k] || strings.HasPrefix(k, http.TrailerPrefix) || !httpguts.ValidHeaderFieldName(k) {
			continue
		}
		lk := hdrkey.Lower(k)
		unique := lk == "x-request-id" || lk == "set-cookie"
		for _, v := range vv {
			if httpguts.ValidHeaderFieldValue(v) {
				_ = sc.henc.WriteField(hpack.HeaderField{Name: lk, Value: v, Sensitive: unique})
			}
		}
	}
	if _, ok := h["Date"]; status >= 200 && !ok {
		_ = sc.henc.WriteField(hpack.HeaderField{Name: "date", Value: httpDate()})
	}
	return sc.hbuf.Bytes()
}

var skipResponseField = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true,
	"Transfer-Encoding": true, "Upgrade": true,
}

// statusText is the decimal form of a status code, without allocating.
func statusText(code int) string {
	if code >= 100 && code < 600 {
		return statusStrings[code-100]
	}
	return strconv.Itoa(code)
}

var statusStrings = func() (s [500]string) {
	for i := range s {
		s[i] = strconv.Itoa(i + 100)
	}
	return s
}()

// dateValue is a Date header value for one second.
type dateValue struct {
	sec int64
	val string
}

var dateNow atomic.Pointer[dateValue]

// httpDate returns the current Date value, formatted once per second.
func httpDate() string {
	now := time.Now()
	d := dateNow.Load()
	if d == nil || d.sec != now.Unix() {
		d = &dateValue{sec: now.Unix(), val: now.UTC().Format(http.TimeFormat)}
		dateNow.Store(d)
	}
	return d.val
}
