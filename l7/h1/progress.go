package h1

import (
	"net"
	"sync/atomic"
	"time"
)

// progressWriter is what a connection's buffered writer writes to. With a
// timeout (Server.WriteTimeout is 0: see writeProgressTimeout) it arms a
// write deadline of that long before each socket write, so a client that
// stops reading its response fails the write, and the connection ends,
// once it has taken nothing for about timeout; a client that reads slowly
// but keeps reading is never cut off. Without it, a handler writing to such
// a client (and the upstream connection it copies from) would block for
// ever.
//
// The handler's goroutine writes through it, and so may a body reader
// sending 100 Continue; those writes never overlap, and the state shared
// between them is atomic.
type progressWriter struct {
	conn    net.Conn
	timeout time.Duration // 0: a plain writer
	armed   atomic.Int64  // when the deadline was last armed (since progressEpoch); 0: not armed
	paused  atomic.Bool   // the handler set its own write deadline
}

const (
	// progressChunk bounds one socket write, so that the deadline measures
	// progress rather than the time to send a large body in one call.
	progressChunk = 64 << 10
	// progressRearm: the deadline is armed again when it was armed more
	// than timeout/progressRearm ago, so that a busy connection does not
	// reset a timer on every write. A write thus fails after between 7/8 of
	// timeout and timeout without progress.
	progressRearm = 8
)

// progressEpoch makes the arming times monotonic (time.Since uses the
// monotonic clock), immune to changes of the wall clock.
var progressEpoch = time.Now()

// Write writes p to the connection, at most progressChunk bytes per socket
// write, each with the deadline armed.
func (w *progressWriter) Write(p []byte) (int, error) {
	if w.timeout <= 0 || w.paused.Load() {
		return w.conn.Write(p)
	}
	n := 0
	for len(p) > 0 {
		w.arm()
		m, err := w.conn.Write(p[:min(len(p), progressChunk)])
		n += m
		if err != nil {
			return n, err
		}
		p = p[m:]
	}
	return n, nil
}

// arm sets the write deadline to timeout from now unless it was set
// recently enough.
func (w *progressWriter) arm() {
	now := time.Since(progressEpoch)
	if last := w.armed.Load(); last != 0 && now-time.Duration(last) < w.timeout/progressRearm {
		return
	}
	w.armed.Store(int64(now))
	_ = w.conn.SetWriteDeadline(progressEpoch.Add(now + w.timeout))
}

// pause stops arming deadlines until resume: the handler has set its own
// (http.ResponseController) and owns the write deadline for the rest of
// its request.
func (w *progressWriter) pause() {
	w.paused.Store(true)
	w.armed.Store(0)
}

// resume arms deadlines again, from the next write on; called as each
// request starts.
func (w *progressWriter) resume() { w.paused.Store(false) }

// writeProgressTimeout is the progress timeout of s's response writes: its
// idle timeout when WriteTimeout is 0, else none (WriteTimeout bounds the
// whole response instead).
func (s *Server) writeProgressTimeout() time.Duration {
	if s.WriteTimeout > 0 {
		return 0
	}
	return s.idleTimeout()
}
