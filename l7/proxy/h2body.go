package proxy

import (
	"bytes"
	"errors"
	"io"
	"net/http"

	"golang.org/x/net/http2"
)

// h2EarlyBody bounds a request body that is sent with its headers.
const h2EarlyBody = 16 << 10

// bufferedBody is a request body that can tell it has ended and is all in
// memory: BufferedComplete returns its length then, -1 otherwise. The
// HTTP/2 server's request bodies do (a gRPC call's message usually comes in
// the same read as its headers).
type bufferedBody interface{ BufferedComplete() int }

// BytesBody is a request body read from b. It is a bufferedBody: over
// HTTP/2 a small one leaves in the same write as the request's headers,
// ending the stream, instead of in DATA frames of its own.
func BytesBody(b []byte) io.ReadCloser { return &bytesBody{Reader: bytes.NewReader(b)} }

type bytesBody struct{ *bytes.Reader }

func (b *bytesBody) Close() error          { return nil }
func (b *bytesBody) BufferedComplete() int { return b.Len() }

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
		incr := cs.creditLocked(n)
		var err error
		if cs.head == len(cs.buf) && cs.recvEnd {
			err = cs.finishLocked()
		}
		cs.mu.Unlock()
		cs.updateWindow(incr)
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

// creditLocked gives n consumed bytes back to the stream's window and
// returns the WINDOW_UPDATE increment now due: credit is sent in batches
// of a quarter window, and not at all once the peer ended the stream.
// cs.mu is held.
func (cs *h2Stream) creditLocked(n int) int {
	if n <= 0 {
		return 0
	}
	cs.recvWindow += n
	cs.unacked += n
	if cs.recvEnd || cs.unacked < h2RecvStreamWindow/4 {
		return 0
	}
	incr := cs.unacked
	cs.unacked = 0
	return incr
}

// updateWindow sends the stream's WINDOW_UPDATE for incr bytes, if any.
func (cs *h2Stream) updateWindow(incr int) {
	if incr > 0 {
		_ = cs.cc.write(func(fr *http2.Framer) error { return fr.WriteWindowUpdate(cs.id, uint32(incr)) })
	}
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
	cs.buf, cs.head = nil, 0 // the connection's credit went back on receipt
	running := !(cs.recvEnd && cs.sentEnd) && cs.err == nil
	cs.mu.Unlock()
	if running {
		cs.abort(errH2BodyClosed, true)
	}
	cs.stop()
	return nil
}
