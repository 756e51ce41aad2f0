package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"

	"github.com/bouncer-proxy/bouncer/l7/internal/h2hdr"
)

// h2Conn is one client connection to an HTTP/2 upstream.
//
// One goroutine (readLoop) reads every frame and hands it to its stream;
// requests write their frames under wmu from their own goroutines. No
// goroutine runs per stream except the one that copies a request body.
// Flow control: the peer's windows bound what streams send (sendWindow,
// waited on with flow); ours bound what the peer sends. A stream's window
// is refunded as the proxy reads its response body, so an upstream never
// makes Bouncer buffer more than h2RecvStreamWindow per stream (streams
// are requests in flight, capped by the peer's MAX_CONCURRENT_STREAMS);
// the connection's window is refunded as soon as DATA arrives, so that
// responses a slow client leaves unread never hold up the other streams.
type h2Conn struct {
	t    *h2Transport
	addr string
	nc   net.Conn
	tls  *tls.ConnectionState
	fr   *http2.Framer  // reads in readLoop, writes under wmu
	hdec *h2hdr.Decoder // header blocks; readLoop only
	blk  h2hdr.Block    // the last one, reused
	bw   *bufio.Writer

	wmu  sync.Mutex // frame writes, in stream-id order for HEADERS
	werr error      // first write error; guarded by wmu

	mu          sync.Mutex
	flow        sync.Cond // signalled when send windows grow or a stream ends
	streams     map[uint32]*h2Stream
	nextID      uint32
	reserved    int   // streams taken, opened or about to be
	maxStreams  int   // the peer's MAX_CONCURRENT_STREAMS
	sendWindow  int32 // the peer's connection window
	initWindow  int32 // the peer's INITIAL_WINDOW_SIZE for new streams
	maxFrame    int   // the peer's MAX_FRAME_SIZE
	recvUnacked int   // response bytes received, not yet refunded to the peer
	recvWindow  int   // what the peer may still send on the connection
	goingAway   bool  // GOAWAY received or sent: no new streams
	closed      bool
	gotSettings bool // the peer's first SETTINGS arrived; settingsSeen is closed
	idleTicks   int
	pingSent    bool

	maxHeaders atomic.Uint32 // the peer's MAX_HEADER_LIST_SIZE (0: no limit); read by requests without mu
	framesRead atomic.Uint64 // for the health check
	lastFrames uint64        // guarded by mu
	tick       *time.Timer
	closeOnce  sync.Once

	settingsSeen chan struct{} // closed by the read loop on the peer's first SETTINGS
	done         chan struct{} // closed when the connection ends; closeErr says why
	closeErr     error
}

// Our side's settings.
const (
	h2RecvStreamWindow = 1 << 20  // per stream
	h2RecvConnWindow   = 16 << 20 // per connection
	h2MaxHeaderList    = 1 << 20  // response header bytes accepted
	h2DefaultWindow    = 65535
	h2DefaultFrame     = 16384
	h2InitialStreams   = 100 // assumed until the peer's SETTINGS say otherwise
)

var (
	// errH2Refused: the upstream did not process the stream (REFUSED_STREAM,
	// or above a GOAWAY's last stream): safe to send again.
	errH2Refused = errors.New("proxy: h2 upstream refused the stream")
	// errH2Closed: the connection ended.
	errH2Closed = errors.New("proxy: h2 upstream connection closed")
)

// newH2Conn starts the client side of HTTP/2 on nc: preface, settings and
// the connection window, then the read loop.
func newH2Conn(t *h2Transport, addr string, nc net.Conn) (*h2Conn, error) {
	cc := &h2Conn{
		t: t, addr: addr, nc: nc,
		streams:    map[uint32]*h2Stream{},
		nextID:     1,
		maxStreams: h2InitialStreams,
		sendWindow: h2DefaultWindow,
		recvWindow: h2RecvConnWindow, // our WINDOW_UPDATE goes out before any request
		initWindow: h2DefaultWindow,
		maxFrame:   h2DefaultFrame,

		settingsSeen: make(chan struct{}),
		done:         make(chan struct{}),
	}
	cc.flow.L = &cc.mu
	if tc, ok := nc.(interface{ ConnectionState() tls.ConnectionState }); ok {
		st := tc.ConnectionState()
		cc.tls = &st
	}
	cc.bw = bufio.NewWriterSize(nc, 32<<10)
	cc.fr = http2.NewFramer(cc.bw, bufio.NewReaderSize(nc, 32<<10))
	cc.fr.SetReuseFrames()
	cc.hdec = h2hdr.NewDecoder(4096, h2MaxHeaderList)
	if _, err := cc.bw.WriteString(http2.ClientPreface); err != nil {
		return nil, err
	}
	err := cc.fr.WriteSettings(
		http2.Setting{ID: http2.SettingEnablePush, Val: 0},
		http2.Setting{ID: http2.SettingInitialWindowSize, Val: h2RecvStreamWindow},
		http2.Setting{ID: http2.SettingMaxHeaderListSize, Val: h2MaxHeaderList},
		http2.Setting{ID: http2.SettingHeaderTableSize, Val: 4096},
	)
	if err == nil {
		err = cc.fr.WriteWindowUpdate(0, h2RecvConnWindow-h2DefaultWindow)
	}
	if err == nil {
		err = cc.bw.Flush()
	}
	if err != nil {
		return nil, err
	}
	cc.tick = time.AfterFunc(t.tickEvery(), cc.maintain)
	go cc.readLoop()
	return cc, nil
}

// awaitSettings waits until the peer's first SETTINGS frame is in, so
// that no stream opens above a MAX_CONCURRENT_STREAMS the peer has not
// announced yet: a server refuses those (RFC 9113 5.1.2), and a request
// with a body cannot be sent again. A connection that ends first, or a
// ctx that ends first (the connection is then closed), is an error.
func (cc *h2Conn) awaitSettings(ctx context.Context) error {
	select {
	case <-cc.settingsSeen:
		return nil
	case <-cc.done:
		return cc.closeErr
	case <-ctx.Done():
		err := fmt.Errorf("%w: no SETTINGS from the upstream: %w", errH2Closed, ctx.Err())
		cc.close(err)
		return err
	}
}

// reserve takes a stream slot if the connection can open one more stream.
func (cc *h2Conn) reserve() bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.closed || cc.goingAway || cc.reserved >= cc.maxStreams || cc.nextID >= 1<<31-2*uint32(cc.maxStreams+1) {
		return false
	}
	cc.reserved++
	cc.idleTicks = 0
	return true
}

// unreserve gives back a slot that never became a stream.
func (cc *h2Conn) unreserve() {
	cc.mu.Lock()
	cc.reserved--
	cc.mu.Unlock()
}

// open registers cs under a new stream id and writes its header block;
// wmu keeps ids and HEADERS in order on the wire.
//
// A non-empty body read whole in advance (early) goes in the same write,
// with END_STREAM, when the windows have room for it (sent reports it);
// otherwise the caller sends it.
func (cc *h2Conn) open(cs *h2Stream, block []byte, endStream bool, early []byte) (sent bool, err error) {
	cc.wmu.Lock()
	defer cc.wmu.Unlock()
	if cc.werr != nil {
		cc.unreserve()
		return false, cc.werr
	}
	cc.mu.Lock()
	if cc.closed || cc.goingAway {
		// GOAWAY or the end came after reserve: nothing was sent.
		cc.reserved--
		cc.mu.Unlock()
		return false, fmt.Errorf("%w: the connection ended before the request was sent", errH2Refused)
	}
	cs.id = cc.nextID
	cc.nextID += 2
	cs.sendWindow = cc.initWindow
	cc.streams[cs.id] = cs
	maxFrame := cc.maxFrame
	if n := int32(len(early)); n > 0 && n <= cc.sendWindow && n <= cs.sendWindow && int(n) <= maxFrame {
		cc.sendWindow -= n
		cs.sendWindow -= n
		sent = true
	}
	cc.mu.Unlock()
	first := true
	for first || len(block) > 0 {
		chunk := block
		if len(chunk) > maxFrame {
			chunk = chunk[:maxFrame]
		}
		block = block[len(chunk):]
		var err error
		if first {
			err = cc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: cs.id, BlockFragment: chunk, EndStream: endStream, EndHeaders: len(block) == 0})
		} else {
			err = cc.fr.WriteContinuation(cs.id, len(block) == 0, chunk)
		}
		if err != nil {
			return false, cc.writeFailedLocked(err)
		}
		first = false
	}
	if sent {
		if err := cc.fr.WriteData(cs.id, true, early); err != nil {
			return false, cc.writeFailedLocked(err)
		}
		cs.mu.Lock()
		cs.sentEnd = true
		cs.mu.Unlock()
	}
	return sent, cc.flushLocked()
}

// write runs fn (frame writes) under the write lock, then flushes.
func (cc *h2Conn) write(fn func(fr *http2.Framer) error) error {
	cc.wmu.Lock()
	defer cc.wmu.Unlock()
	if cc.werr != nil {
		return cc.werr
	}
	if err := fn(cc.fr); err != nil {
		return cc.writeFailedLocked(err)
	}
	return cc.flushLocked()
}

func (cc *h2Conn) flushLocked() error {
	if err := cc.bw.Flush(); err != nil {
		return cc.writeFailedLocked(err)
	}
	return nil
}

// writeFailedLocked records a write error and closes the connection; the
// read loop then fails every stream.
func (cc *h2Conn) writeFailedLocked(err error) error {
	if cc.werr == nil {
		cc.werr = fmt.Errorf("%w: %w", errH2Closed, err)
	}
	_ = cc.nc.Close()
	return cc.werr
}

// resetStream sends RST_STREAM for id (best effort).
func (cc *h2Conn) resetStream(id uint32, code http2.ErrCode) {
	_ = cc.write(func(fr *http2.Framer) error { return fr.WriteRSTStream(id, code) })
}

// forget removes cs, ended or reset, and frees its slot. A connection
// left without streams is closed when it is going away or its transport
// was retired.
func (cc *h2Conn) forget(cs *h2Stream) {
	cc.mu.Lock()
	if cc.streams[cs.id] == cs {
		delete(cc.streams, cs.id)
		cc.reserved--
		cc.flow.Broadcast()
	}
	idleAway := cc.goingAway && len(cc.streams) == 0
	retiredIdle := !idleAway && cc.reserved == 0 && cc.t.retired.Load()
	cc.mu.Unlock()
	switch {
	case idleAway:
		cc.close(errH2Closed)
	case retiredIdle:
		cc.shutdownIfIdle()
	}
}

// refundConn gives n received response bytes back to the peer's
// connection window, in batches of a quarter window (read loop).
func (cc *h2Conn) refundConn(n int) {
	if n <= 0 {
		return
	}
	cc.mu.Lock()
	cc.recvUnacked += n
	incr := 0
	if cc.recvUnacked >= h2RecvConnWindow/4 {
		incr, cc.recvUnacked = cc.recvUnacked, 0
		cc.recvWindow += incr
	}
	cc.mu.Unlock()
	if incr > 0 {
		_ = cc.write(func(fr *http2.Framer) error { return fr.WriteWindowUpdate(0, uint32(incr)) })
	}
}

// takeSendWindow waits until cs may send, and takes up to n bytes of both
// windows. It returns 0 when the stream or connection is over.
func (cc *h2Conn) takeSendWindow(cs *h2Stream, n int) int {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	for {
		if cc.closed || cs.aborted.Load() {
			return 0
		}
		avail := min(int(cc.sendWindow), int(cs.sendWindow), cc.maxFrame, n)
		if avail > 0 {
			cc.sendWindow -= int32(avail)
			cs.sendWindow -= int32(avail)
			return avail
		}
		cc.flow.Wait()
	}
}

// close ends the connection once: every stream fails with err.
func (cc *h2Conn) close(err error) {
	cc.closeOnce.Do(func() {
		cc.tick.Stop()
		// closed is set before remove, so that the dial adding cc to
		// the pool (under the pool's lock) either sees it or is undone.
		cc.mu.Lock()
		cc.closed = true
		streams := make([]*h2Stream, 0, len(cc.streams))
		for _, cs := range cc.streams {
			streams = append(streams, cs)
		}
		cc.flow.Broadcast()
		cc.mu.Unlock()
		cc.t.remove(cc)
		_ = cc.nc.Close()
		for _, cs := range streams {
			cs.abort(err, false)
		}
		cc.closeErr = err
		close(cc.done)
	})
}

func (cc *h2Conn) isClosed() bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.closed
}

// shutdownIfIdle sends GOAWAY and closes the connection if it has no
// streams; it reports whether it did.
func (cc *h2Conn) shutdownIfIdle() bool {
	cc.mu.Lock()
	idle := cc.reserved == 0 && !cc.closed
	if idle {
		cc.goingAway = true
	}
	cc.mu.Unlock()
	if idle {
		_ = cc.write(func(fr *http2.Framer) error { return fr.WriteGoAway(0, http2.ErrCodeNo, nil) })
		cc.close(errH2Closed)
	}
	return idle
}

// maintain runs every tickEvery: it pings a connection with streams that
// has been silent for a tick (and closes it if the ping got no answer by
// the next one), and closes one idle for the transport's idle timeout.
func (cc *h2Conn) maintain() {
	frames := cc.framesRead.Load()
	cc.mu.Lock()
	silent := frames == cc.lastFrames
	cc.lastFrames = frames
	if !silent {
		cc.pingSent = false
	}
	dead := silent && cc.pingSent
	ping := silent && !cc.pingSent && cc.reserved > 0
	if ping {
		cc.pingSent = true
	}
	if cc.reserved == 0 {
		cc.idleTicks++
	}
	idleFor := time.Duration(cc.idleTicks) * cc.t.tickEvery()
	closed := cc.closed
	cc.mu.Unlock()
	switch {
	case closed:
		return
	case dead:
		cc.close(fmt.Errorf("%w: no answer to a ping", errH2Closed))
		return
	case ping:
		_ = cc.write(func(fr *http2.Framer) error { return fr.WritePing(false, [8]byte{'b', 'o', 'u', 'n', 'c', 'e', 'r'}) })
	case cc.t.idle > 0 && idleFor >= cc.t.idle && cc.shutdownIfIdle():
		return
	}
	cc.tick.Reset(cc.t.tickEvery())
}
