package h2

import (
	"time"

	"golang.org/x/net/http2"
)

// setInitialWindow applies a new SETTINGS_INITIAL_WINDOW_SIZE to every
// open stream (RFC 9113 6.9.2).
func (sc *conn) setInitialWindow(v int32) error {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	delta := v - sc.initWindow
	sc.initWindow = v
	for _, st := range sc.streams {
		if int64(st.sendWindow)+int64(delta) > 1<<31-1 {
			return http2.ConnectionError(http2.ErrCodeFlowControl)
		}
		st.sendWindow += delta
	}
	sc.flow.Broadcast()
	return nil
}

func (sc *conn) onWindowUpdate(f *http2.WindowUpdateFrame) error {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if f.StreamID == 0 {
		if int64(sc.sendWindow)+int64(f.Increment) > 1<<31-1 {
			return http2.ConnectionError(http2.ErrCodeFlowControl)
		}
		sc.sendWindow += int32(f.Increment)
		sc.flow.Broadcast()
		return nil
	}
	st := sc.streams[f.StreamID]
	if st == nil {
		if f.StreamID > sc.maxClientID {
			return http2.ConnectionError(http2.ErrCodeProtocol) // idle stream (5.1)
		}
		return nil // closed: a window update may cross our reset
	}
	if int64(st.sendWindow)+int64(f.Increment) > 1<<31-1 {
		go sc.resetStream(f.StreamID, http2.ErrCodeFlowControl)
		return nil
	}
	st.sendWindow += int32(f.Increment)
	sc.flow.Broadcast()
	return nil
}

// refundConn returns consumed request bytes to the client's connection
// window, in batches.
func (sc *conn) refundConn(n int) {
	if n <= 0 {
		return
	}
	sc.mu.Lock()
	sc.recvUnacked += n
	incr := 0
	if sc.recvUnacked >= connWindow/4 {
		incr, sc.recvUnacked = sc.recvUnacked, 0
		sc.recvWindow += incr
	}
	sc.mu.Unlock()
	if incr > 0 {
		_ = sc.write(func(fr *http2.Framer) error { return fr.WriteWindowUpdate(0, uint32(incr)) })
	}
}

// takeSendWindow takes up to n bytes of both send windows for st, waiting
// for some when wait is set; 0 when the stream or connection ended (or,
// without wait, when there is no window now).
//
// A stream that waits longer than the server's IdleTimeout for the client
// to open its window is reset (CANCEL): a client that stops reading must
// not hold a handler for ever.
func (sc *conn) takeSendWindow(st *stream, n int, wait bool) int {
	sc.mu.Lock()
	var stall *time.Timer
	stalled := false
	defer func() {
		abortNow := stalled
		sc.mu.Unlock()
		if stall != nil {
			stall.Stop()
		}
		if abortNow {
			st.abort(errStalled, true, http2.ErrCodeCancel)
		}
	}()
	for {
		if sc.closed || st.aborted.Load() {
			return 0
		}
		avail := min(int(sc.sendWindow), int(st.sendWindow), sc.peerFrame, n)
		if avail > 0 {
			sc.sendWindow -= int32(avail)
			st.sendWindow -= int32(avail)
			return avail
		}
		if !wait {
			return 0
		}
		if stalled {
			return 0
		}
		if stall == nil && sc.srv.IdleTimeout > 0 {
			stall = time.AfterFunc(sc.srv.IdleTimeout, func() {
				sc.mu.Lock()
				stalled = true
				sc.flow.Broadcast()
				sc.mu.Unlock()
			})
		}
		sc.flow.Wait()
	}
}
