package h2

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/bouncer-proxy/bouncer/l7/internal/h2hdr"
)

// conn is one server connection.
type conn struct {
	srv    *Server
	nc     net.Conn
	ctx    context.Context
	cancel context.CancelFunc
	remote string
	tls    *tls.ConnectionState
	fr     *http2.Framer // read by serve, written under wmu
	bw     *bufio.Writer

	wmu  sync.Mutex // every frame write; hpack encoder state
	werr error
	henc *hpack.Encoder
	hbuf bytes.Buffer

	hdec *h2hdr.Decoder // header blocks; read loop only
	blk  h2hdr.Block    // the last one, reused

	mu          sync.Mutex
	flow        sync.Cond // send windows grew, or a stream or the connection ended
	streams     map[uint32]*stream
	maxClientID uint32 // highest stream id the client opened
	sendWindow  int32  // the client's connection window
	initWindow  int32  // the client's SETTINGS_INITIAL_WINDOW_SIZE
	peerFrame   int    // the client's SETTINGS_MAX_FRAME_SIZE
	recvUnacked int    // request bytes consumed, not yet refunded
	recvWindow  int    // what the client may still send on the connection
	handlers    int    // handler goroutines running
	goingAway   bool   // GOAWAY sent: no new streams
	closed      bool
	idle        *time.Timer
}

func newConn(s *Server, c net.Conn, ctx context.Context) *conn {
	sc := &conn{
		srv: s, nc: c, remote: c.RemoteAddr().String(), tls: tlsState(c),
		streams:    map[uint32]*stream{},
		sendWindow: 65535, initWindow: 65535, peerFrame: 16384,
		recvWindow: 65535,
	}
	sc.ctx, sc.cancel = context.WithCancel(ctx)
	sc.flow.L = &sc.mu
	sc.bw = bufio.NewWriterSize(c, 16<<10)
	sc.fr = http2.NewFramer(sc.bw, bufio.NewReaderSize(c, 16<<10))
	// The Framer also caps each HPACK string at its list limit, and a
	// longer one is a connection error (COMPRESSION_ERROR) that would end
	// every stream of the connection; with some slack, a single field over
	// MaxHeaderBytes gets its request a 431 instead (start checks the
	// list size itself).
	sc.hdec = h2hdr.NewDecoder(headerTableSize, s.maxHeaderBytes()+headerDecodeSlack)
	sc.fr.SetMaxReadFrameSize(maxFrameSize)
	sc.henc = hpack.NewEncoder(&sc.hbuf)
	return sc
}

// serve runs the connection: preface, settings, then the frame loop.
func (sc *conn) serve() {
	defer sc.close()
	if !sc.readPreface() {
		return
	}
	err := sc.write(func(fr *http2.Framer) error {
		err := fr.WriteSettings(
			http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: sc.srv.maxStreams()},
			http2.Setting{ID: http2.SettingInitialWindowSize, Val: streamWindow},
			http2.Setting{ID: http2.SettingMaxHeaderListSize, Val: sc.srv.maxHeaderBytes()},
		)
		if err == nil {
			err = fr.WriteWindowUpdate(0, connWindow-65535)
		}
		return err
	})
	if err != nil {
		return
	}
	// Shutdown sees the connection only now, so that its GOAWAY cannot
	// come before SETTINGS, the server's first frame (RFC 9113 3.4).
	if !sc.srv.track(sc, true) {
		sc.goAway(http2.ErrCodeNo, true) // shut down meanwhile: no stream is served
	}
	defer sc.srv.track(sc, false)
	sc.mu.Lock()
	sc.recvWindow = connWindow
	sc.mu.Unlock()
	if sc.srv.IdleTimeout > 0 {
		sc.idle = time.AfterFunc(sc.srv.IdleTimeout, sc.onIdle)
	}
	first := true
	for {
		f, err := sc.fr.ReadFrame()
		if err != nil {
			if !sc.readError(err) {
				return
			}
			continue
		}
		if first {
			// RFC 9113 3.4: the preface ends with a SETTINGS frame.
			if s, ok := f.(*http2.SettingsFrame); !ok || s.IsAck() {
				sc.goAway(http2.ErrCodeProtocol, false)
				return
			}
			first = false
		}
		if err := sc.handle(f); err != nil {
			var ce http2.ConnectionError
			if errors.As(err, &ce) {
				sc.goAway(http2.ErrCode(ce), false)
			}
			return
		}
	}
}

// readPreface reads the client connection preface and reports whether it
// came. A connection without its preface has no stream either, so its wait
// is bounded by IdleTimeout like any idle connection's; the read deadline
// is cleared afterwards.
func (sc *conn) readPreface() bool {
	idle := sc.srv.IdleTimeout
	if idle > 0 {
		_ = sc.nc.SetReadDeadline(time.Now().Add(idle))
	}
	var preface [len(http2.ClientPreface)]byte
	if _, err := io.ReadFull(sc.nc, preface[:]); err != nil || string(preface[:]) != http2.ClientPreface {
		return false
	}
	if idle > 0 {
		_ = sc.nc.SetReadDeadline(time.Time{})
	}
	return true
}

// readError handles a frame that could not be read; false ends the
// connection.
func (sc *conn) readError(err error) bool {
	var se http2.StreamError
	var ce http2.ConnectionError
	switch {
	case errors.As(err, &se):
		sc.resetStream(se.StreamID, se.Code)
		return true
	case errors.As(err, &ce):
		sc.goAway(http2.ErrCode(ce), false)
	case errors.Is(err, http2.ErrFrameTooLarge):
		sc.goAway(http2.ErrCodeFrameSize, false)
	}
	return false
}

// handle dispatches one frame; a ConnectionError ends the connection.
func (sc *conn) handle(f http2.Frame) error {
	switch f := f.(type) {
	case *http2.HeadersFrame:
		if err := sc.hdec.ReadBlock(sc.fr, f, &sc.blk); err != nil {
			var se http2.StreamError
			if errors.As(err, &se) {
				sc.resetStream(se.StreamID, se.Code)
				return nil
			}
			if errors.Is(err, http2.ErrFrameTooLarge) {
				return http2.ConnectionError(http2.ErrCodeFrameSize)
			}
			return err
		}
		return sc.onHeaders(&sc.blk)
	case *http2.DataFrame:
		return sc.onData(f)
	case *http2.SettingsFrame:
		return sc.onSettings(f)
	case *http2.WindowUpdateFrame:
		return sc.onWindowUpdate(f)
	case *http2.PingFrame:
		if f.StreamID != 0 {
			return http2.ConnectionError(http2.ErrCodeProtocol)
		}
		if !f.IsAck() {
			return sc.write(func(fr *http2.Framer) error { return fr.WritePing(true, f.Data) })
		}
	case *http2.RSTStreamFrame:
		return sc.onReset(f)
	case *http2.PriorityFrame:
		if f.StreamID == f.StreamDep {
			sc.resetStream(f.StreamID, http2.ErrCodeProtocol) // RFC 9113 5.3.1
		}
	case *http2.GoAwayFrame:
		// The client opens no more streams; it closes when it is done.
	case *http2.PushPromiseFrame:
		return http2.ConnectionError(http2.ErrCodeProtocol) // clients never push (8.4)
	}
	return nil
}

// stream returns the open stream id, and whether id is idle (never
// opened by the client: above every id it used).
func (sc *conn) stream(id uint32) (*stream, bool) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.streams[id], id > sc.maxClientID
}

func (sc *conn) onSettings(f *http2.SettingsFrame) error {
	if f.IsAck() {
		return nil
	}
	// The settings are applied and acknowledged under the write lock, so
	// that no frame sent under the new settings (DATA in a window that
	// just opened) precedes the acknowledgement.
	sc.wmu.Lock()
	defer sc.wmu.Unlock()
	if sc.werr != nil {
		return sc.werr
	}
	err := f.ForeachSetting(func(s http2.Setting) error {
		if err := s.Valid(); err != nil {
			return err
		}
		switch s.ID {
		case http2.SettingInitialWindowSize:
			return sc.setInitialWindow(int32(s.Val))
		case http2.SettingMaxFrameSize:
			sc.mu.Lock()
			sc.peerFrame = int(s.Val)
			sc.mu.Unlock()
		case http2.SettingHeaderTableSize:
			sc.henc.SetMaxDynamicTableSizeLimit(s.Val)
		}
		return nil
	})
	if err != nil {
		return err
	}
	err = sc.fr.WriteSettingsAck()
	if err == nil {
		err = sc.bw.Flush()
	}
	if err != nil {
		sc.writeFailedLocked(err)
	}
	return err
}

func (sc *conn) onReset(f *http2.RSTStreamFrame) error {
	st, idle := sc.stream(f.StreamID)
	if idle {
		return http2.ConnectionError(http2.ErrCodeProtocol)
	}
	if st != nil {
		st.abort(errClientReset, false, 0)
	}
	return nil
}

// write runs fn under the write lock and flushes.
func (sc *conn) write(fn func(fr *http2.Framer) error) error {
	sc.wmu.Lock()
	defer sc.wmu.Unlock()
	if sc.werr != nil {
		return sc.werr
	}
	err := fn(sc.fr)
	if err == nil {
		err = sc.bw.Flush()
	}
	if err != nil {
		sc.writeFailedLocked(err)
	}
	return err
}

func (sc *conn) writeFailedLocked(err error) {
	if sc.werr == nil {
		sc.werr = err
	}
	_ = sc.nc.Close()
}

// resetStream sends RST_STREAM and ends the stream if it is open.
func (sc *conn) resetStream(id uint32, code http2.ErrCode) {
	if st, _ := sc.stream(id); st != nil {
		st.abort(errStreamReset, false, 0)
	}
	_ = sc.write(func(fr *http2.Framer) error { return fr.WriteRSTStream(id, code) })
}

// goAway sends GOAWAY once. A graceful one (code NO_ERROR, graceful)
// lets open streams finish; the connection closes with its last stream.
// Otherwise the connection closes now.
func (sc *conn) goAway(code http2.ErrCode, graceful bool) {
	sc.mu.Lock()
	already := sc.goingAway
	sc.goingAway = true
	last := sc.maxClientID
	empty := len(sc.streams) == 0
	sc.mu.Unlock()
	if !already {
		_ = sc.write(func(fr *http2.Framer) error { return fr.WriteGoAway(last, code, nil) })
	}
	switch {
	case !graceful:
		sc.closeConn()
	case empty:
		sc.linger()
	}
}

// goAwayLinger is how long a connection that sent a graceful GOAWAY and
// has no streams left keeps reading before it closes, so that frames the
// client sent meanwhile do not turn the close into a reset.
const goAwayLinger = time.Second

// linger ends a gracefully closing connection: the read loop runs until
// the client closes or goAwayLinger passes.
func (sc *conn) linger() {
	_ = sc.nc.SetReadDeadline(time.Now().Add(goAwayLinger))
}

// onIdle closes a connection that has had no stream for IdleTimeout.
func (sc *conn) onIdle() {
	sc.mu.Lock()
	idle := len(sc.streams) == 0 && sc.handlers == 0
	sc.mu.Unlock()
	if idle {
		sc.goAway(0, true)
	} else {
		sc.idle.Reset(sc.srv.IdleTimeout)
	}
}

// closeConn closes the socket; serve's read fails and close finishes.
func (sc *conn) closeConn() {
	_ = sc.nc.Close()
}

// close ends every stream and the connection (serve's exit).
func (sc *conn) close() {
	sc.mu.Lock()
	sc.closed = true
	streams := make([]*stream, 0, len(sc.streams))
	for _, st := range sc.streams {
		streams = append(streams, st)
	}
	sc.flow.Broadcast()
	sc.mu.Unlock()
	for _, st := range streams {
		st.abort(errConnClosed, false, 0)
	}
	if sc.idle != nil {
		sc.idle.Stop()
	}
	sc.cancel()
	sc.wmu.Lock()
	_ = sc.bw.Flush()
	sc.wmu.Unlock()
	_ = sc.nc.Close()
}

// forget removes an ended stream; the connection closes after a graceful
// GOAWAY when it was the last.
//
// Request body bytes nobody read are given back to the connection window:
// a handler that ignores bodies must not shut the connection's window.
func (sc *conn) forget(st *stream) {
	sc.mu.Lock()
	gone := sc.streams[st.id] == st
	if gone {
		delete(sc.streams, st.id)
		sc.flow.Broadcast()
	}
	last := sc.goingAway && len(sc.streams) == 0
	sc.mu.Unlock()
	if gone {
		st.discardBody()
	}
	if last {
		sc.linger()
	}
}
