package h1

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"
)

// slowAfter is how long a handler runs before the connection is watched
// for the client going away. Most handlers finish sooner, and then no
// background read (a goroutine, a deadline to abort it) is paid for.
const slowAfter = 50 * time.Millisecond

// aLongTimeAgo is a deadline in the past, to abort a blocked read now.
var aLongTimeAgo = time.Unix(1, 0)

// connReader sits between the bufio.Reader and the connection. It limits
// how much a request head may read, and runs the background read that
// notices a client gone while a slow handler runs: a one-byte read whose
// byte, if one arrives (a pipelined request), is returned by the next Read.
type connReader struct {
	rwc   net.Conn
	timer *time.Timer // fires onSlow; created once, Reset per request

	mu      sync.Mutex
	cond    sync.Cond
	limit   int64 // bytes a head may still read; < 0: no limit
	hitLim  bool
	inRead  bool // the background read is running
	aborted bool // endRequest is aborting it
	hasByte bool
	byteBuf [1]byte
	err     error // what the background read met (the client is gone)

	active   bool               // a handler runs
	bodyDone bool               // its request body is consumed (or empty)
	slow     bool               // it has run longer than slowAfter
	started  time.Time          // when it started
	cancel   context.CancelFunc // cancels its context
}

func (cr *connReader) init(rwc net.Conn) {
	cr.rwc = rwc
	cr.cond.L = &cr.mu
	cr.limit = -1
}

// Read returns the byte kept by the background read first, then reads from
// the connection. It is called by the connection's goroutine (through the
// bufio.Reader), or by a handler reading its body; never concurrently.
func (cr *connReader) Read(p []byte) (int, error) {
	cr.mu.Lock()
	if cr.inRead {
		cr.abortLocked() // defensive: a foreground read wants the connection
	}
	if len(p) == 0 {
		cr.mu.Unlock()
		return 0, nil
	}
	if cr.hasByte {
		p[0] = cr.byteBuf[0]
		cr.hasByte = false
		cr.mu.Unlock()
		return 1, nil
	}
	if cr.err != nil {
		err := cr.err
		cr.mu.Unlock()
		return 0, err
	}
	limited := cr.limit >= 0
	if limited {
		if cr.limit == 0 {
			cr.hitLim = true
			cr.mu.Unlock()
			return 0, errHeadTooLarge
		}
		p = p[:min(int64(len(p)), cr.limit)]
	}
	cr.mu.Unlock()
	n, err := cr.rwc.Read(p)
	if limited {
		cr.mu.Lock()
		cr.limit -= int64(n)
		cr.mu.Unlock()
	}
	return n, err
}

// setLimit bounds the bytes read for a head (n < 0: no bound).
func (cr *connReader) setLimit(n int64) {
	cr.mu.Lock()
	cr.limit, cr.hitLim = n, false
	cr.mu.Unlock()
}

func (cr *connReader) hitLimit() bool {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	return cr.hitLim
}

// startRequest arms the slow-handler timer for a request; cancel ends its
// context when the client is noticed gone.
func (cr *connReader) startRequest(cancel context.CancelFunc, bodyDone bool) {
	cr.mu.Lock()
	cr.active, cr.bodyDone, cr.slow = true, bodyDone, false
	cr.cancel = cancel
	cr.started = time.Now()
	cr.mu.Unlock()
	if cr.timer == nil {
		cr.timer = time.AfterFunc(slowAfter, cr.onSlow)
	} else {
		cr.timer.Reset(slowAfter)
	}
}

// endRequest disarms the timer and stops a background read, keeping its
// byte for the next Read. It blocks until that read has returned.
func (cr *connReader) endRequest() {
	if cr.timer != nil {
		cr.timer.Stop()
	}
	cr.mu.Lock()
	cr.active, cr.cancel = false, nil
	if cr.inRead {
		cr.abortLocked()
	}
	cr.mu.Unlock()
}

// abortLocked interrupts the background read and waits for it. The next
// read sets its own deadline.
func (cr *connReader) abortLocked() {
	cr.aborted = true
	_ = cr.rwc.SetReadDeadline(aLongTimeAgo)
	for cr.inRead {
		cr.cond.Wait()
	}
	cr.aborted = false
}

// onSlow runs in the timer's goroutine once a handler has run slowAfter.
// A stale firing (the timer was Reset for the next request as it fired)
// finds the new request too young and leaves.
func (cr *connReader) onSlow() {
	cr.mu.Lock()
	if !cr.active || time.Since(cr.started) < slowAfter/2 {
		cr.mu.Unlock()
		return
	}
	cr.slow = true
	start := cr.bodyDone && cr.claimLocked()
	cr.mu.Unlock()
	if start {
		cr.backgroundRead()
	}
}

// bodyEOF is called when the request body has been read to its end.
func (cr *connReader) bodyEOF() {
	cr.mu.Lock()
	cr.bodyDone = true
	start := cr.active && cr.slow && cr.claimLocked()
	cr.mu.Unlock()
	if start {
		go cr.backgroundRead()
	}
}

// claimLocked decides to start the background read and prepares it: no
// deadline from the head or the idle wait may end it.
func (cr *connReader) claimLocked() bool {
	if cr.inRead || cr.hasByte || cr.err != nil {
		return false
	}
	cr.inRead = true
	_ = cr.rwc.SetReadDeadline(time.Time{})
	return true
}

// backgroundRead blocks in a one-byte read until the client sends more,
// goes away, or endRequest aborts it. EOF or an error cancels the request.
func (cr *connReader) backgroundRead() {
	n, err := cr.rwc.Read(cr.byteBuf[:])
	cr.mu.Lock()
	if n == 1 {
		cr.hasByte = true
	}
	var ne net.Error
	if err != nil && !(cr.aborted && errors.As(err, &ne) && ne.Timeout()) {
		cr.err = err
		if cr.cancel != nil {
			cr.cancel()
		}
	}
	cr.inRead = false
	cr.cond.Broadcast()
	cr.mu.Unlock()
}
