package proxy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

type hpackField = hpack.HeaderField

// h2Stream is one request on an h2Conn. The read loop fills in the
// response; the proxy reads the body through h2Body.
type h2Stream struct {
	cc  *h2Conn
	id  uint32
	req *http.Request

	sendWindow int32       // guarded by cc.mu
	aborted    atomic.Bool // no more frames are sent for this stream
	gotHeaders bool        // read loop only
	respc      chan struct{}
	body       h2Body
	bodyOnce   sync.Once // closes req.Body

	mu         sync.Mutex
	cond       sync.Cond
	res        *http.Response
	err        error  // terminal error, reported by Read and RoundTrip
	buf        []byte // received body bytes, unread from head
	head       int
	recvWindow int  // what the peer may still send on this stream
	unacked    int  // consumed and not yet refunded
	recvEnd    bool // END_STREAM received
	sentEnd    bool // END_STREAM sent
	signalled  bool // respc got its one value
	closedBody bool
	trailer    http.Header
	stopCtx    func() bool // ends the context watch
}

var errH2BodyClosed = errors.New("proxy: h2 response body closed")

// roundTrip sends req on cc (a slot is reserved) and waits for the
// response headers.
func (cc *h2Conn) roundTrip(req *http.Request) (*http.Response, error) {
	bp := headerBufPool.Get().(*[]byte)
	block, size, err := encodeRequestHeaders((*bp)[:0], req, cc.tls != nil)
	if limit := cc.maxHeaders.Load(); err == nil && limit > 0 && size > int(limit) {
		err = errors.New("proxy: h2 upstream: request headers larger than the upstream accepts")
	}
	hasBody := req.Body != nil && req.Body != http.NoBody
	if err != nil {
		headerBufPool.Put(bp)
		cc.unreserve()
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, err
	}
	cs := &h2Stream{cc: cc, req: req, respc: make(chan struct{}, 1), recvWindow: h2RecvStreamWindow}
	cs.cond.L = &cs.mu
	cs.body.cs = cs
	early, ebp, err := readEarly(req)
	if err != nil {
		headerBufPool.Put(bp)
		cc.unreserve()
		return nil, err
	}
	if ebp != nil {
		defer bufPool.Put(ebp)
	}
	cs.sentEnd = !hasBody || (early != nil && len(early) == 0)
	sentBody, err := cc.open(cs, block, cs.sentEnd, early)
	*bp = block
	headerBufPool.Put(bp)
	if err != nil {
		if hasBody {
			_ = req.Body.Close()
		}
		return nil, err
	}
	if early != nil {
		hasBody = false           // read whole already: no body writer
		cs.bodyOnce.Do(func() {}) // and readEarly closed it
		if !sentBody && !cs.sentEnd {
			// The windows had no room with the headers: send it apart.
			data := append([]byte(nil), early...)
			go func() {
				if cs.sendData(data) {
					cs.endRequest()
				}
			}()
		}
	}
	if ctx := req.Context(); ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() { cs.abort(ctx.Err(), true) })
		cs.mu.Lock()
		cs.stopCtx = stop
		cs.mu.Unlock()
	}
	if hasBody {
		go cs.writeBody()
	}
	<-cs.respc
	cs.mu.Lock()
	res, err := cs.res, cs.err
	cs.mu.Unlock()
	if res == nil {
		cs.stop()
		return nil, err
	}
	return res, nil
}

var headerBufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

func (cs *h2Stream) stop() {
	cs.mu.Lock()
	stop := cs.stopCtx
	cs.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// h2EarlyBody bounds a request body that is sent with its headers.
const h2EarlyBody = 16 << 10

// bufferedBody is a request body that can tell it has ended and is all in
// memory: BufferedComplete returns its length then, -1 otherwise. The
// HTTP/2 server's request bodies do (a gRPC call's message usually comes in
// the same read as its headers).
type bufferedBody interface{ BufferedComplete() int }

// readEarly reads the whole request body when it is already in memory and
// small, so that it leaves with the headers in one write and needs no
// body writer goroutine. early is nil when the body is sent as usual; the
// pooled buffer (to give back after sending) is returned with it. The
// body is closed once read.
func readEarly(req *http.Request) (early []byte, pooled *[]byte, err error) {
	bb, ok := req.Body.(bufferedBody)
	if !ok || len(req.Trailer) > 0 {
		return nil, nil, nil
	}
	n := bb.BufferedComplete()
	if n < 0 || n > h2EarlyBody {
		return nil, nil, nil
	}
	bp := bufPool.Get().(*[]byte)
	buf := (*bp)[:0]
	for {
		m, rerr := req.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if rerr == io.EOF {
			_ = req.Body.Close()
			return buf, bp, nil
		}
		if rerr != nil || len(buf) == cap(buf) {
			_ = req.Body.Close()
			bufPool.Put(bp)
			if rerr == nil {
				rerr = errors.New("proxy: request body longer than announced")
			}
			return nil, nil, rerr
		}
	}
}

// writeBody copies the request body into DATA frames, then ends the
// stream (with trailers when the request has them).
func (cs *h2Stream) writeBody() {
	body := cs.req.Body
	defer cs.closeReqBody()
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	for {
		n, rerr := body.Read(buf)
		if n > 0 && !cs.sendData(buf[:n]) {
			return
		}
		switch {
		case rerr == io.EOF:
			cs.endRequest()
			return
		case rerr != nil:
			cs.abort(rerr, true)
			return
		}
	}
}

// closeReqBody closes the request body once: when writeBody is done with
// it, or when the stream is aborted, which also ends a Read blocked in
// writeBody (RoundTrip must close the body, http.RoundTripper).
func (cs *h2Stream) closeReqBody() {
	cs.bodyOnce.Do(func() { _ = cs.req.Body.Close() })
}

// sendData writes p as DATA frames within the flow-control windows.
func (cs *h2Stream) sendData(p []byte) bool {
	cc := cs.cc
	for len(p) > 0 {
		n := cc.takeSendWindow(cs, len(p))
		if n == 0 {
			return false
		}
		chunk := p[:n]
		p = p[n:]
		if err := cc.write(func(fr *http2.Framer) error { return fr.WriteData(cs.id, false, chunk) }); err != nil {
			return false
		}
	}
	return true
}

// endRequest sends END_STREAM, on the trailers if there are any.
func (cs *h2Stream) endRequest() {
	if cs.aborted.Load() {
		return
	}
	cc := cs.cc
	var err error
	if len(cs.req.Trailer) > 0 {
		var block []byte
		block, err = encodeTrailers(nil, cs.req.Trailer)
		if err == nil {
			err = cc.write(func(fr *http2.Framer) error {
				return fr.WriteHeaders(http2.HeadersFrameParam{StreamID: cs.id, BlockFragment: block, EndStream: true, EndHeaders: true})
			})
		}
	} else {
		err = cc.write(func(fr *http2.Framer) error { return fr.WriteData(cs.id, true, nil) })
	}
	if err != nil {
		cs.abort(err, true)
		return
	}
	cs.mu.Lock()
	cs.sentEnd = true
	done := cs.recvEnd
	cs.mu.Unlock()
	if done {
		cs.cc.forget(cs)
	}
}

// receiveHeaders builds the response (read loop).
func (cs *h2Stream) receiveHeaders(status int, h http.Header, ended bool) {
	cs.gotHeaders = true
	res := &http.Response{
		Status:        strconv.Itoa(status) + " " + http.StatusText(status),
		StatusCode:    status,
		Proto:         "HTTP/2.0",
		ProtoMajor:    2,
		Header:        h,
		ContentLength: -1,
		Body:          &cs.body,
		Request:       cs.req,
		TLS:           cs.cc.tls,
	}
	if cl := h["Content-Length"]; len(cl) == 1 {
		if n, err := strconv.ParseInt(cl[0], 10, 64); err == nil && n >= 0 {
			res.ContentLength = n
		}
	}
	if ended && cs.req.Method != http.MethodHead {
		res.ContentLength = 0
	}
	for _, v := range h["Trailer"] {
		for _, k := range strings.Split(v, ",") {
			if k = strings.TrimSpace(k); k != "" {
				if res.Trailer == nil {
					res.Trailer = http.Header{}
				}
				res.Trailer[http.CanonicalHeaderKey(k)] = nil
			}
		}
	}
	cs.mu.Lock()
	cs.res = res
	cs.recvEnd = ended
	done := ended && cs.sentEnd
	if done {
		// Free the slot before the caller sees the response: a request
		// made right after it then finds the connection idle.
		cs.mu.Unlock()
		cs.cc.forget(cs)
		cs.mu.Lock()
	}
	cs.signalLocked()
	cs.mu.Unlock()
}

// receiveData queues a body chunk (read loop); an error means the peer
// broke the stream's rules and the stream must be reset.
func (cs *h2Stream) receiveData(p []byte, flowLen int, ended bool) error {
	cs.mu.Lock()
	if !cs.gotHeaders || cs.recvEnd {
		cs.mu.Unlock()
		return errors.New("proxy: h2 upstream sent DATA outside a response body")
	}
	cs.recvWindow -= flowLen
	if cs.recvWindow < 0 {
		cs.mu.Unlock()
		return errors.New("proxy: h2 upstream sent more than the stream window")
	}
	if cs.closedBody {
		cs.mu.Unlock()
		cs.cc.refundConn(len(p))
		return nil
	}
	switch {
	case cs.head == len(cs.buf):
		cs.buf, cs.head = cs.buf[:0], 0
	case cs.head > 0 && len(cs.buf)+len(p) > cap(cs.buf):
		// Move the unread bytes to the front rather than grow: with a
		// reader that never quite catches up, buf would otherwise keep
		// every byte of the body (unread ones are bounded by the window).
		n := copy(cs.buf, cs.buf[cs.head:])
		cs.buf, cs.head = cs.buf[:n], 0
	}
	cs.buf = append(cs.buf, p...)
	cs.recvEnd = ended
	done := ended && cs.sentEnd
	cs.mu.Unlock()
	if done {
		cs.cc.forget(cs) // before the reader sees EOF, as in receiveHeaders
	}
	cs.cond.Broadcast()
	return nil
}

// receiveTrailers ends the response with its trailers (read loop).
func (cs *h2Stream) receiveTrailers(h http.Header) {
	cs.mu.Lock()
	cs.trailer = h
	cs.recvEnd = true
	done := cs.sentEnd
	cs.mu.Unlock()
	if done {
		cs.cc.forget(cs) // before the reader sees EOF, as in receiveHeaders
	}
	cs.cond.Broadcast()
}

func (cs *h2Stream) signalLocked() {
	if !cs.signalled {
		cs.signalled = true
		cs.respc <- struct{}{}
	}
}

// abort ends the stream with err unless it already ended; rst sends
// RST_STREAM(CANCEL) to the peer.
func (cs *h2Stream) abort(err error, rst bool) {
	cs.mu.Lock()
	over := cs.err != nil || (cs.recvEnd && cs.sentEnd)
	if !over {
		cs.err = err
	}
	sending := !cs.sentEnd
	cs.signalLocked()
	cs.cond.Broadcast()
	cs.mu.Unlock()
	if over || cs.aborted.Swap(true) {
		return
	}
	if sending {
		go cs.closeReqBody() // Close may block until a Read returns
	}
	cc := cs.cc
	cc.mu.Lock()
	cc.flow.Broadcast()
	cc.mu.Unlock()
	if rst {
		cc.resetStream(cs.id, http2.ErrCodeCancel)
	}
	cc.forget(cs)
	cs.stop()
}

// h2Body is a response body; Read returns io.EOF once the stream ended,
// with the trailers copied into the response.
type h2Body struct{ cs *h2Stream }

func (b *h2Body) Read(p []byte) (int, error) {
	cs := b.cs
	cs.mu.Lock()
	for cs.head == len(cs.buf) && !cs.recvEnd && cs.err == nil {
		cs.cond.Wait()
	}
	if cs.head < len(cs.buf) {
		n := copy(p, cs.buf[cs.head:])
		cs.head += n
		cs.recvWindow += n
		cs.unacked += n
		var incr int
		if !cs.recvEnd && cs.unacked >= h2RecvStreamWindow/4 {
			incr, cs.unacked = cs.unacked, 0
		}
		var err error
		if cs.head == len(cs.buf) && cs.recvEnd {
			err = cs.finishLocked()
		}
		cs.mu.Unlock()
		cs.refund(n, incr)
		return n, err
	}
	// A response that arrived whole is whole, even if the stream was reset
	// afterwards (an upstream that stops reading the request sends
	// RST_STREAM(NO_ERROR) after its trailers).
	err := cs.err
	if cs.recvEnd {
		err = cs.finishLocked()
	}
	cs.mu.Unlock()
	return 0, err
}

// finishLocked copies the trailers into the response at end of body.
func (cs *h2Stream) finishLocked() error {
	if cs.res.Trailer == nil {
		cs.res.Trailer = cs.trailer // none declared: the trailers' own map
	} else {
		for k, vv := range cs.trailer {
			cs.res.Trailer[k] = vv
		}
	}
	cs.trailer = nil
	return io.EOF
}

// refund returns consumed bytes to the peer's windows.
func (cs *h2Stream) refund(n, streamIncr int) {
	cc := cs.cc
	if streamIncr > 0 {
		_ = cc.write(func(fr *http2.Framer) error { return fr.WriteWindowUpdate(cs.id, uint32(streamIncr)) })
	}
	cc.refundConn(n)
}

// Close ends the body; a stream still running is reset.
func (b *h2Body) Close() error {
	cs := b.cs
	cs.mu.Lock()
	if cs.closedBody {
		cs.mu.Unlock()
		return nil
	}
	cs.closedBody = true
	unread := len(cs.buf) - cs.head
	cs.buf, cs.head = nil, 0
	running := !(cs.recvEnd && cs.sentEnd) && cs.err == nil
	cs.mu.Unlock()
	cs.cc.refundConn(unread)
	if running {
		cs.abort(errH2BodyClosed, true)
	}
	cs.stop()
	return nil
}
