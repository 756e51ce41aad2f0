package h2

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"

	"golang.org/x/net/http2"

	"github.com/bouncer-proxy/bouncer/l7/internal/h2hdr"
	"github.com/bouncer-proxy/bouncer/l7/internal/hdrkey"
	"golang.org/x/net/http2/hpack"
)

var (
	errClientReset = errors.New("h2: client reset the stream")
	errStreamReset = errors.New("h2: stream reset")
	errConnClosed  = errors.New("h2: connection closed")
	errBodyClosed  = errors.New("h2: request body closed")
	errStalled     = errors.New("h2: the client kept its flow-control window shut")
)

// stream is one request and its response.
type stream struct {
	sc     *conn
	id     uint32
	ctx    context.Context
	cancel context.CancelFunc
	req    *http.Request
	rw     responseWriter
	body   requestBody

	sendWindow int32       // guarded by sc.mu
	aborted    atomic.Bool // reset or connection gone: write nothing more
	noContinue atomic.Bool // a final status is set: no 100 Continue

	mu           sync.Mutex
	cond         sync.Cond
	buf          []byte // request body bytes not yet read, from head
	head         int
	recvWindow   int   // what the client may still send on this stream
	unacked      int   // consumed, not yet refunded
	declared     int64 // content-length, or -1
	received     int64
	recvEnd      bool // END_STREAM received (half-closed remote)
	sentEnd      bool // END_STREAM sent (set before the frame leaves)
	err          error
	bodyClosed   bool
	needContinue bool // Expect: 100-continue not yet answered
	trailer      http.Header
}

// onHeaders opens a stream, or takes a stream's trailers.
func (sc *conn) onHeaders(f *h2hdr.Block) error {
	id := f.StreamID
	if id%2 == 0 {
		return http2.ConnectionError(http2.ErrCodeProtocol)
	}
	if f.HasPriority() && f.Priority.StreamDep == id {
		sc.resetStream(id, http2.ErrCodeProtocol) // self-dependency (5.3.1)
		return nil
	}
	st, idle := sc.stream(id)
	switch {
	case st != nil:
		return st.onTrailers(f)
	case !idle:
		return http2.ConnectionError(http2.ErrCodeStreamClosed) // 5.1: closed
	}
	sc.mu.Lock()
	sc.maxClientID = id
	going := sc.goingAway
	over := len(sc.streams) >= int(sc.srv.maxStreams())
	calm := sc.handlers >= int(sc.srv.maxStreams())*handlerSlack
	sc.mu.Unlock()
	switch {
	case going:
		return nil // above our GOAWAY: ignored (6.8)
	case calm:
		return http2.ConnectionError(http2.ErrCodeEnhanceYourCalm)
	case over:
		sc.resetStream(id, http2.ErrCodeRefusedStream)
		return nil
	}
	var req http.Request
	declared, code := sc.newRequest(f, &req)
	if code != 0 {
		sc.resetStream(id, code)
		return nil
	}
	return sc.start(f, &req, declared)
}

// start registers a validated stream and runs its handler.
func (sc *conn) start(f *h2hdr.Block, req *http.Request, declared int64) error {
	st := &stream{sc: sc, id: f.StreamID, declared: declared, recvWindow: streamWindow}
	st.cond.L = &st.mu
	st.ctx, st.cancel = context.WithCancel(sc.ctx)
	st.recvEnd = f.StreamEnded()
	if st.recvEnd {
		req.Body = http.NoBody
		req.ContentLength = 0
	} else {
		st.body.st = st
		req.Body = &st.body
		req.ContentLength = declared
		st.needContinue = hasContinue(req.Header)
	}
	st.req = req.WithContext(st.ctx)
	st.rw = responseWriter{st: st, header: make(http.Header, 4)}
	sc.mu.Lock()
	st.sendWindow = sc.initWindow
	sc.streams[st.id] = st
	sc.handlers++
	sc.mu.Unlock()
	if sc.idle != nil {
		sc.idle.Stop()
	}
	if f.Truncated || headerListSize(f.Fields) > sc.srv.maxHeaderBytes() {
		goHandler(func() { sc.runStatus(st, http.StatusRequestHeaderFieldsTooLarge) })
	} else {
		goHandler(func() { sc.runHandler(st) })
	}
	return nil
}

// runHandler serves st and ends it: the response is completed, or the
// stream reset if the handler panicked.
func (sc *conn) runHandler(st *stream) {
	defer sc.handlerDone(st)
	defer func() {
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler {
				buf := make([]byte, 16<<10)
				buf = buf[:runtime.Stack(buf, false)]
				sc.srv.logger().Error("h2: handler panic", "remote", sc.remote, "panic", fmt.Sprint(v), "stack", string(buf))
			}
			st.abort(errStreamReset, true, http2.ErrCodeInternal)
		}
	}()
	sc.srv.Handler.ServeHTTP(&st.rw, st.req)
	st.rw.finish()
}

// runStatus answers st with an empty response (a request the handler
// never sees).
func (sc *conn) runStatus(st *stream, code int) {
	defer sc.handlerDone(st)
	st.rw.WriteHeader(code)
	st.rw.finish()
}

func (sc *conn) handlerDone(st *stream) {
	st.mu.Lock()
	open := !st.recvEnd && st.err == nil
	st.mu.Unlock()
	if open {
		// The response is complete but the client still sends: tell it to
		// stop (RFC 9113 8.1).
		st.abort(errStreamReset, true, http2.ErrCodeNo)
	}
	st.cancel()
	sc.forget(st)
	sc.mu.Lock()
	sc.handlers--
	idle := sc.handlers == 0 && len(sc.streams) == 0
	sc.mu.Unlock()
	if idle && sc.idle != nil {
		sc.idle.Reset(sc.srv.IdleTimeout)
	}
}

// onTrailers takes the trailers that end a request body.
func (st *stream) onTrailers(f *h2hdr.Block) error {
	st.mu.Lock()
	ended, closed := st.recvEnd, st.sentEnd
	st.mu.Unlock()
	switch {
	case ended && closed:
		// Both sides ended it: closed, even if the handler has not
		// returned yet (5.1).
		return http2.ConnectionError(http2.ErrCodeStreamClosed)
	case ended:
		st.sc.resetStream(st.id, http2.ErrCodeStreamClosed) // 5.1: half-closed (remote)
		return nil
	case !f.StreamEnded() || len(f.PseudoFields()) > 0:
		st.sc.resetStream(st.id, http2.ErrCodeProtocol) // 8.1: trailers end the stream
		return nil
	}
	h := make(http.Header, len(f.RegularFields()))
	for _, hf := range f.RegularFields() {
		k := hdrkey.Canonical(hf.Name)
		h[k] = append(h[k], hf.Value)
	}
	return st.endBody(h)
}

// onData queues request body bytes, enforcing windows and content-length.
func (sc *conn) onData(f *http2.DataFrame) error {
	n := int(f.Length)
	sc.mu.Lock()
	sc.recvWindow -= n
	overflow := sc.recvWindow < 0
	st := sc.streams[f.StreamID]
	idle := f.StreamID > sc.maxClientID
	sc.mu.Unlock()
	switch {
	case overflow:
		return http2.ConnectionError(http2.ErrCodeFlowControl)
	case st == nil && idle:
		return http2.ConnectionError(http2.ErrCodeProtocol)
	case st == nil:
		sc.refundConn(n)
		sc.resetStreamOnly(f.StreamID, http2.ErrCodeStreamClosed)
		return nil
	}
	data := f.Data()
	code, drop := st.receive(data, n, f.StreamEnded())
	sc.refundConn(n - len(data) + drop) // padding, and bytes nobody will read
	if code != 0 {
		sc.refundConn(len(data))
		sc.resetStream(st.id, code)
	}
	return nil
}

// resetStreamOnly sends RST_STREAM for a stream that is not open.
func (sc *conn) resetStreamOnly(id uint32, code http2.ErrCode) {
	_ = sc.write(func(fr *http2.Framer) error { return fr.WriteRSTStream(id, code) })
}

// receive buffers a DATA payload; a non-zero code resets the stream.
// drop counts bytes discarded (the body was closed), to refund.
func (st *stream) receive(p []byte, flowLen int, end bool) (code http2.ErrCode, drop int) {
	st.mu.Lock()
	defer st.mu.Unlock()
	switch {
	case st.recvEnd:
		return http2.ErrCodeStreamClosed, 0
	case st.recvWindow < flowLen:
		return http2.ErrCodeFlowControl, 0
	}
	st.recvWindow -= flowLen
	st.received += int64(len(p))
	if st.declared >= 0 && (st.received > st.declared || (end && st.received != st.declared)) {
		return http2.ErrCodeProtocol, 0 // 8.1.1: content-length disagrees with DATA
	}
	if st.bodyClosed {
		drop = len(p)
	} else {
		st.bufferLocked(p)
	}
	if end {
		st.recvEnd = true
	}
	st.cond.Broadcast()
	return 0, drop
}

// bufferLocked appends p to the unread body bytes. When p does not fit
// after them, they move to the front first: a reader that lags behind
// without ever emptying the buffer would otherwise keep every consumed
// byte, and the buffer would grow with the body instead of staying about
// the size of the stream window.
func (st *stream) bufferLocked(p []byte) {
	if st.head > 0 && len(st.buf)+len(p) > cap(st.buf) {
		n := copy(st.buf, st.buf[st.head:])
		st.buf, st.head = st.buf[:n], 0
	}
	st.buf = append(st.buf, p...)
}

// endBody ends the request body with trailers.
func (st *stream) endBody(trailer http.Header) error {
	st.mu.Lock()
	short := st.declared >= 0 && st.received != st.declared
	if !short {
		st.recvEnd = true
		st.trailer = trailer
		st.cond.Broadcast()
	}
	st.mu.Unlock()
	if short {
		st.sc.resetStream(st.id, http2.ErrCodeProtocol)
	}
	return nil
}

// abort ends st with err: the handler's context is canceled, body reads
// fail, writes stop; rst sends RST_STREAM with code, once.
func (st *stream) abort(err error, rst bool, code http2.ErrCode) {
	// Marked aborted before a reader can learn of err: a handler that
	// returns on the failed read must find its response cut, not write one
	// ahead of the RST_STREAM.
	first := !st.aborted.Swap(true)
	st.mu.Lock()
	if st.err == nil {
		st.err = err
	}
	st.cond.Broadcast()
	st.mu.Unlock()
	st.cancel()
	sc := st.sc
	sc.mu.Lock()
	sc.flow.Broadcast()
	sc.mu.Unlock()
	st.sc.forget(st)
	if first && rst {
		sc.resetStreamOnly(st.id, code)
	}
}

// headerListSize is the size of a header list as SETTINGS_MAX_HEADER_LIST_SIZE
// counts it (RFC 9113 6.5.2).
func headerListSize(fields []hpack.HeaderField) uint32 {
	var n uint32
	for _, hf := range fields {
		n += hf.Size()
	}
	return n
}

func hasContinue(h http.Header) bool {
	v := h["Expect"]
	return len(v) == 1 && (v[0] == "100-continue" || http.CanonicalHeaderKey(v[0]) == "100-Continue")
}

// contentLength parses a request's content-length values (8.1.1).
func contentLength(vals []string) (int64, bool) {
	if len(vals) == 0 {
		return -1, true
	}
	n, err := strconv.ParseInt(vals[0], 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	for _, v := range vals[1:] {
		if v != vals[0] {
			return 0, false
		}
	}
	return n, true
}
