package proxy

import (
	"context"
	"errors"
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
	unacked    int  // read or padding, not yet refunded
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
	cs, writer, err := cc.send(req)
	if err != nil {
		return nil, err
	}
	if ctx := req.Context(); ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() { cs.abort(ctx.Err(), true) })
		cs.mu.Lock()
		cs.stopCtx = stop
		cs.mu.Unlock()
	}
	if writer {
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

// send opens a stream for req: its headers, and its body when it is
// already whole in memory (readEarly). writer reports that the body is
// still to be copied by writeBody.
func (cc *h2Conn) send(req *http.Request) (cs *h2Stream, writer bool, err error) {
	bp := headerBufPool.Get().(*[]byte)
	defer headerBufPool.Put(bp)
	block, size, err := encodeRequestHeaders((*bp)[:0], req, cc.tls != nil)
	*bp = block
	if limit := cc.maxHeaders.Load(); err == nil && limit > 0 && size > int(limit) {
		err = errors.New("proxy: h2 upstream: request headers larger than the upstream accepts")
	}
	hasBody := req.Body != nil && req.Body != http.NoBody
	if err != nil {
		cc.unreserve()
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, false, err
	}
	cs = &h2Stream{cc: cc, req: req, respc: make(chan struct{}, 1), recvWindow: h2RecvStreamWindow}
	cs.cond.L = &cs.mu
	cs.body.cs = cs
	early, ebp, err := readEarly(req)
	if err != nil {
		cc.unreserve()
		return nil, false, err
	}
	if ebp != nil {
		defer bufPool.Put(ebp)
	}
	cs.sentEnd = !hasBody || (early != nil && len(early) == 0)
	sentBody, err := cc.open(cs, block, cs.sentEnd, early)
	if err != nil {
		if hasBody {
			_ = req.Body.Close()
		}
		return nil, false, err
	}
	if early == nil {
		return cs, hasBody, nil
	}
	cs.bodyOnce.Do(func() {}) // readEarly closed it
	if !sentBody && !cs.sentEnd {
		// The windows had no room with the headers: send it apart.
		data := append([]byte(nil), early...)
		go func() {
			if cs.sendData(data) {
				cs.endRequest()
			}
		}()
	}
	return cs, false, nil
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
	// Padding (and its length byte) is never delivered, so no Read gives
	// it back: credit it now, or a peer that pads shrinks the stream's
	// window for good.
	incr := cs.creditLocked(flowLen - len(p))
	done := ended && cs.sentEnd
	cs.mu.Unlock()
	cs.updateWindow(incr)
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
