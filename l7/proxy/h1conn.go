package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// Body writer states of an exchange (h1Conn.wstate).
const (
	writeNone       int32 = iota // no request body
	writeRunning                 // the writer goroutine is sending the body
	writeDone                    // the body was sent
	writeFailed                  // writing to the upstream failed
	writeBodyFailed              // reading the client's body failed: h1Conn.bodyErr
)

// maxScratch is the largest head buffer a connection keeps between exchanges.
const maxScratch = 64 << 10

// h1Conn is one upstream HTTP/1.1 connection carrying one exchange at a
// time. The request's goroutine writes the head and reads the response
// head; a request body is sent by a writer goroutine so that an early
// response is read while the body is still going; the response body
// (h1Body) owns the connection until it ends, then hands it to the pool
// or closes it.
type h1Conn struct {
	conn     net.Conn
	br       *bufio.Reader
	pool     *h1Pool
	alive    func() bool // probe of an idle connection; nil: none
	abort    func()      // closes conn; run by context.AfterFunc on cancellation
	scratch  []byte      // head and trailer bytes, reused
	idleAt   time.Time   // when it entered the pool
	reused   bool        // it carried an exchange before
	deadline bool        // a read deadline is set (by a body drain)

	// The current exchange.
	ctx     context.Context
	stop    func() bool // stops the cancellation watch; nil: none
	wstate  atomic.Int32
	wdone   chan struct{} // the body writer's last act; made for the first body
	bodyErr error         // set before wstate becomes writeBodyFailed
}

// errBadRequestHead is a request that cannot be written as HTTP/1.1.
var errBadRequestHead = errors.New("proxy: request cannot be sent upstream")

func newH1Conn(nc net.Conn, p *h1Pool) *h1Conn {
	c := &h1Conn{conn: nc, br: bufio.NewReaderSize(nc, 4<<10), pool: p, alive: aliveProbe(nc)}
	c.abort = func() { _ = c.conn.Close() }
	return c
}

// roundTrip sends req on c and reads the response head; on success the
// response body owns c. retry reports a failure on a reused connection
// that the upstream cannot have acted on (the head was not fully written,
// or nothing came back for a replayable request without a body), so a
// new connection may be tried.
func (c *h1Conn) roundTrip(req *http.Request) (res *http.Response, retry bool, err error) {
	c.ctx = req.Context()
	c.wstate.Store(writeNone)
	if c.ctx.Done() != nil {
		c.stop = context.AfterFunc(c.ctx, c.abort)
	}
	hasBody := req.Body != nil && req.Body != http.NoBody
	bw := getWriter(c.conn)
	if err := writeHead(bw, req, hasBody); err != nil {
		putWriter(bw)
		retry = c.reused && c.ctx.Err() == nil && !errors.Is(err, errBadRequestHead)
		err = c.failure(err)
		c.release(false)
		return nil, retry, err
	}
	if hasBody {
		if c.wdone == nil {
			c.wdone = make(chan struct{}, 1)
		}
		c.wstate.Store(writeRunning)
		go c.writeBody(req, bw)
	} else {
		putWriter(bw)
		c.wstate.Store(writeNone)
	}
	x, keep, got, err := c.readResponse(req)
	if err != nil {
		retry = c.reused && !got && !hasBody && replayable(req) && c.ctx.Err() == nil
		err = c.failure(err)
		c.release(false)
		return nil, retry, err
	}
	x.body.c, x.body.res, x.body.keep = c, &x.res, keep
	if x.body.kind == bodyNone {
		x.res.Body = http.NoBody
		c.release(keep)
	} else {
		x.res.Body = &x.body
	}
	return &x.res, false, nil
}

// readResponse reads the final response head, skipping 1xx ones. got
// reports whether any byte of a response arrived.
func (c *h1Conn) readResponse(req *http.Request) (x *h1Response, keep, got bool, err error) {
	limit := maxHeadBytes
	for n1xx := 0; ; n1xx++ {
		buf, err := readBlock(c.br, c.scratch[:0], limit)
		c.keepScratch(buf)
		if err != nil {
			return nil, false, n1xx > 0 || len(buf) > 0, err
		}
		line, fields := cutLine(string(buf))
		sl, err := parseStatusLine(line)
		switch {
		case err != nil:
			return nil, false, true, err
		case sl.code == http.StatusSwitchingProtocols:
			return nil, false, true, fmt.Errorf("%w: 101 to a request without upgrade", errMalformedHead)
		case sl.code < 200 && n1xx == 4:
			return nil, false, true, fmt.Errorf("%w: too many 1xx responses", errMalformedHead)
		case sl.code < 200:
			limit -= len(buf) + 2
			continue
		}
		x, keep, err := newResponse(req, sl, fields)
		return x, keep, true, err
	}
}

// failure maps an exchange error: a failed client body and a cancelled
// context take precedence over the connection error they caused.
func (c *h1Conn) failure(err error) error {
	if c.wstate.Load() == writeBodyFailed {
		return fmt.Errorf("proxy: reading request body: %w", c.bodyErr)
	}
	if c.ctx != nil {
		if cerr := c.ctx.Err(); cerr != nil {
			return fmt.Errorf("proxy: upstream exchange ended: %w", cerr)
		}
	}
	return err
}

// ctxAlive reports whether the exchange's context is still live.
func (c *h1Conn) ctxAlive() bool { return c.ctx == nil || c.ctx.Err() == nil }

// release ends the exchange: the connection goes back to the pool when
// reuse is allowed and nothing is left over (the cancellation watch did
// not fire, the body writer finished, no unread bytes), else it is closed.
func (c *h1Conn) release(reuse bool) {
	stopped := c.stop == nil || c.stop()
	c.stop, c.ctx = nil, nil
	if reuse && c.wstate.Load() != writeNone {
		reuse = c.awaitWriter()
	}
	if reuse && stopped && c.br.Buffered() == 0 && c.clearDeadline() && c.pool.put(c) {
		return
	}
	c.close()
}

// writerWait is how long a response that ended before its request body
// was sent waits for the body writer before the connection is given up
// (an upstream may answer as soon as it has read the body).
const writerWait = 50 * time.Millisecond

// awaitWriter waits for the body writer to finish and reports whether it
// sent the whole body.
func (c *h1Conn) awaitWriter() bool {
	select {
	case <-c.wdone:
	default:
		t := time.NewTimer(writerWait)
		defer t.Stop()
		select {
		case <-c.wdone:
		case <-t.C:
			return false
		}
	}
	return c.wstate.Load() == writeDone
}

// clearDeadline removes a read deadline left by a drain.
func (c *h1Conn) clearDeadline() bool {
	if !c.deadline {
		return true
	}
	c.deadline = false
	return c.conn.SetReadDeadline(time.Time{}) == nil
}

func (c *h1Conn) keepScratch(buf []byte) {
	if cap(buf) <= maxScratch {
		c.scratch = buf[:0]
	} else {
		c.scratch = nil
	}
}

func (c *h1Conn) close() { _ = c.conn.Close() }

// replayable reports whether a request may be sent again after the
// upstream may have seen it, as net/http decides: idempotent methods, or
// an idempotency key (the body, if any, is checked by the caller).
func replayable(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	_, a := req.Header["Idempotency-Key"]
	_, b := req.Header["X-Idempotency-Key"]
	return a || b
}
