package tcpproxy

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	defaultBufferSize = 32 << 10
	// spliceChunk bounds one ReadFrom call when an idle timeout is set. The
	// runtime reports the bytes a splice moved only when ReadFrom returns,
	// so a long call to a slow reader would look idle; a bounded chunk makes
	// the progress visible at least every spliceChunk bytes.
	spliceChunk = 256 << 10
	// unbounded is the ReadFrom limit without an idle timeout: until EOF.
	unbounded = 1<<63 - 1
)

var bufPool = sync.Pool{New: func() any {
	b := make([]byte, defaultBufferSize)
	return &b
}}

// side names the socket an error belongs to, relative to a direction.
type side uint8

const (
	sideSrc side = iota
	sideDst
)

// direction copies one way, from src to dst.
//
// Idle detection: before each copy step the source gets a read deadline one
// tick (IdleTimeout/4) ahead, so every step returns within a tick even when
// the kernel splices and no user code sees the bytes. After each step the
// moved bytes are counted and the pipe's last-activity clock is set; a
// deadline error just starts the next step. The watchdog alone decides
// idleness from that clock. The cost is one runtime timer reset and one
// ReadFrom round trip per tick and per spliceChunk: nothing per byte.
type direction struct {
	p              *pipe
	src, dst       net.Conn
	srcTCP, dstTCP *net.TCPConn // both set on the splice path, both nil otherwise
	fromClient     bool
	prefix         []byte
	count          *atomic.Int64
	buf            *[]byte
	lr             io.LimitedReader
	bulk           bool // a read filled the buffer: splice from now on
}

func (p *pipe) direction(src, dst net.Conn, fromClient bool) *direction {
	d := &direction{p: p, src: src, dst: dst, fromClient: fromClient, count: &p.bytesOut}
	if fromClient {
		d.count = &p.bytesIn
	}
	d.srcTCP, d.dstTCP = unwrapTCP(src), unwrapTCP(dst)
	if d.srcTCP == nil || d.dstTCP == nil {
		d.srcTCP, d.dstTCP = nil, nil
	}
	return d
}

func (d *direction) spliced() bool { return d.dstTCP != nil }

// run writes the prefix, then copies until EOF or error and reports the
// outcome to the pipe. It runs on its own goroutine.
func (d *direction) run() {
	if len(d.prefix) > 0 {
		n, err := d.dst.Write(d.prefix)
		d.moved(int64(n), false)
		if err != nil {
			d.p.abort(d.errReason(sideDst))
			return
		}
	}
	for {
		if d.p.tick > 0 {
			_ = d.reader().SetReadDeadline(time.Now().Add(d.p.tick))
		}
		var eof bool
		var s side
		var err error
		switch {
		case d.spliced() && d.bulk:
			eof, s, err = d.splice()
		case d.spliced():
			eof, s, err = d.copyStep()
		default:
			eof, s, err = d.copyBuffered()
		}
		switch {
		case eof:
			d.halfClose()
			return
		case err == nil || isTimeout(err):
			continue
		default:
			d.p.abort(d.errReason(s))
			return
		}
	}
}

// splice moves up to one chunk with (*net.TCPConn).ReadFrom, which the
// runtime implements with splice(2) between two TCP sockets.
func (d *direction) splice() (eof bool, s side, err error) {
	d.lr.R, d.lr.N = d.srcTCP, unbounded
	if d.p.tick > 0 {
		d.lr.N = spliceChunk
	}
	n, err := d.dstTCP.ReadFrom(&d.lr)
	d.moved(n, true)
	if err != nil {
		return false, d.blame(err), err
	}
	// ReadFrom returns a nil error at EOF; a chunk left unfilled means EOF.
	return d.lr.N > 0, sideSrc, nil
}

// copyStep moves one read's worth through the buffer. A direction that
// could splice starts this way: small exchanges (a 64-byte request and
// its answer) cost one read and one write, where splice(2) would add pipe
// system calls; the first read that fills the buffer marks a bulk
// transfer, which is spliced from then on.
func (d *direction) copyStep() (eof bool, s side, err error) {
	if d.buf == nil {
		d.buf = getBuffer(d.p.o.BufferSize)
	}
	buf := *d.buf
	n, rerr := d.src.Read(buf)
	if n > 0 {
		w, werr := d.dst.Write(buf[:n])
		d.moved(int64(w), false)
		if werr != nil {
			return false, sideDst, werr
		}
		if n == len(buf) {
			d.bulk = true
		}
	}
	if rerr == io.EOF {
		return true, sideSrc, nil
	}
	return false, sideSrc, rerr
}

// copyBuffered reads and writes through a buffer until EOF, an error or
// the read deadline.
func (d *direction) copyBuffered() (eof bool, s side, err error) {
	if d.buf == nil {
		d.buf = getBuffer(d.p.o.BufferSize)
	}
	buf := *d.buf
	for {
		n, rerr := d.src.Read(buf)
		if n > 0 {
			w, werr := d.dst.Write(buf[:n])
			d.moved(int64(w), false)
			if werr != nil {
				return false, sideDst, werr
			}
		}
		if rerr == io.EOF {
			return true, sideSrc, nil
		}
		if rerr != nil {
			return false, sideSrc, rerr
		}
	}
}

// moved counts n bytes as moved now.
func (d *direction) moved(n int64, spliced bool) {
	if n <= 0 {
		return
	}
	d.count.Add(n)
	d.p.touch()
	if st := d.p.o.Stats; st != nil {
		if spliced {
			st.SplicedBytes.Add(n)
		} else {
			st.BufferedBytes.Add(n)
		}
	}
}

// halfClose propagates the source's EOF as a FIN on the destination. A
// destination that cannot half-close ends the whole pipe, and so does the
// second EOF: both sides are done, and closing sends the last FIN without
// a shutdown call first.
func (d *direction) halfClose() {
	r := ReasonUpstreamClosed
	if d.fromClient {
		r = ReasonClientClosed
	}
	d.p.verdict.soft(r)
	if d.p.eofs.Add(1) == 2 {
		d.p.end()
		return
	}
	if err := closeWrite(d.dst); err != nil {
		d.p.end()
	}
}

// blame tells which socket a failed splice belongs to: ReadFrom does not
// say whether reading src or writing dst failed. EPIPE only comes from a
// write. A reset moves a socket to TCP_CLOSE; only dst is asked, because
// while this direction runs we have sent dst no FIN, so dst cannot have
// reached TCP_CLOSE by an orderly close, whereas src can (both FINs
// exchanged, ours sent by the other direction). Anything else is taken to
// be the reading side's.
func (d *direction) blame(err error) side {
	switch {
	case errors.Is(err, syscall.EPIPE), tcpClosed(d.dstTCP):
		return sideDst
	default:
		return sideSrc
	}
}

// errReason maps a failing side to the pipe's reason.
func (d *direction) errReason(s side) Reason {
	if (s == sideSrc) == d.fromClient {
		return ReasonClientError
	}
	return ReasonUpstreamError
}

func (d *direction) reader() net.Conn {
	if d.srcTCP != nil {
		return d.srcTCP
	}
	return d.src
}

// release returns the pooled buffer; the direction must be done.
func (d *direction) release() {
	if d.buf != nil && len(*d.buf) == defaultBufferSize {
		bufPool.Put(d.buf)
	}
	d.buf = nil
}

func getBuffer(size int) *[]byte {
	if size == defaultBufferSize {
		return bufPool.Get().(*[]byte)
	}
	b := make([]byte, size)
	return &b
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
