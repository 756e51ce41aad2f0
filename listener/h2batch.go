package listener

import (
	"crypto/tls"
	"net"
	"runtime"
	"sync"
	"time"
)

// batchConn coalesces the writes of one server-side HTTP/2 connection.
//
// x/net's server flushes whenever its frame queue runs empty, which with
// many streams in flight means a TLS record and a write system call for
// almost every frame: the HEADERS and the DATA of one small response leave
// in two writes. batchConn makes Write copy into a bounded queue and
// return; one short-lived goroutine writes the queue out. Before it takes
// the queue it yields once (runtime.Gosched), so whatever else is ready to
// run (other handlers finishing their responses, the server's frame loop)
// adds to it first. An idle connection pays one yield per write; a busy one
// sends many frames per system call.
//
// Write blocks while the queue holds maxBatch bytes, so a client that does
// not read holds back the server as it would without batching. A write
// error is kept and returned by every later Write. Close writes out what is
// queued (waiting at most closeFlushWait) before closing the connection, so
// a final GOAWAY is not lost.
type batchConn struct {
	net.Conn

	mu      sync.Mutex
	drained sync.Cond // signalled when the writer takes the queue or stops
	queue   []byte    // written by Write, not yet taken by the writer
	spare   []byte    // the writer's last buffer, reused as the next queue
	writing bool      // a writer goroutine runs
	err     error     // first write error; sticky
	closed  bool
	wait    time.Duration // how long Close waits for the queue to go
	stall   time.Duration // a socket write may take this long (0: no limit)
}

const (
	// maxBatch bounds the queue. A Write that would pass it waits, unless
	// the queue is empty (a single write may be larger: one frame).
	maxBatch = 64 << 10
	// closeFlushWait bounds how long Close waits for queued bytes to go.
	closeFlushWait = time.Second
)

// errBatchClosed is returned by Write after Close.
var errBatchClosed = net.ErrClosed

func newBatchConn(c net.Conn) *batchConn {
	b := &batchConn{Conn: c, wait: closeFlushWait}
	b.drained.L = &b.mu
	return b
}

// Write queues p and returns; see the type's comment.
func (b *batchConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	for b.err == nil && !b.closed && len(b.queue) > 0 && len(b.queue)+len(p) > maxBatch {
		b.drained.Wait()
	}
	switch {
	case b.err != nil:
		err := b.err
		b.mu.Unlock()
		return 0, err
	case b.closed:
		b.mu.Unlock()
		return 0, errBatchClosed
	}
	b.queue = append(b.queue, p...)
	start := !b.writing
	b.writing = true
	b.mu.Unlock()
	if start {
		go b.writeLoop()
	}
	return len(p), nil
}

// writeLoop writes the queue out until it stays empty.
func (b *batchConn) writeLoop() {
	for {
		runtime.Gosched() // let the rest of what is ready add to the queue
		b.mu.Lock()
		buf := b.queue
		if len(buf) == 0 || b.err != nil {
			b.queue = b.queue[:0]
			b.writing = false
			b.drained.Broadcast()
			b.mu.Unlock()
			return
		}
		b.queue = b.spare[:0]
		b.drained.Broadcast()
		b.mu.Unlock()

		if b.stall > 0 {
			// A peer that stopped reading fails the write, and the
			// connection ends, instead of holding its writers for ever.
			_ = b.Conn.SetWriteDeadline(time.Now().Add(b.stall))
		}
		_, err := b.Conn.Write(buf)

		b.mu.Lock()
		if cap(buf) <= 2*maxBatch {
			b.spare = buf[:0]
		}
		if err != nil && b.err == nil {
			b.err = err
		}
		b.mu.Unlock()
	}
}

// Close writes out the queue, waiting at most b.wait, then closes
// the connection. It is safe to call more than once.
func (b *batchConn) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.drained.Broadcast() // writers waiting for room give up
	if b.writing {
		// Bound the wait: a peer that does not read fails the write.
		_ = b.Conn.SetWriteDeadline(time.Now().Add(b.wait))
		for b.writing {
			b.drained.Wait()
		}
	}
	b.mu.Unlock()
	return b.Conn.Close()
}

// tlsConn is the *tls.Conn under c, seen through a batchConn; nil if none.
func tlsConn(c net.Conn) *tls.Conn {
	if b, ok := c.(*batchConn); ok {
		c = b.Conn
	}
	tc, _ := c.(*tls.Conn)
	return tc
}

// BatchWrites wraps c so that its writes are coalesced as for the h2
// server's connections (see batchConn): for HTTP/2 clients, whose
// transports flush after every request's headers and body. A *tls.Conn
// keeps its ConnectionState visible through the wrapper.
func BatchWrites(c net.Conn) net.Conn {
	b := newBatchConn(c)
	if tc, ok := c.(*tls.Conn); ok {
		return &batchTLSConn{batchConn: b, tc: tc}
	}
	return b
}

// batchTLSConn is a batchConn over TLS.
type batchTLSConn struct {
	*batchConn
	tc *tls.Conn
}

// ConnectionState is the wrapped TLS connection's state.
func (c *batchTLSConn) ConnectionState() tls.ConnectionState { return c.tc.ConnectionState() }
