package proxy

import (
	"sync"
	"time"
)

// h1Pool holds the idle connections to one endpoint address as a LIFO
// stack: the most recently used connection is taken first (it is the
// least likely to have been closed by the upstream), and the oldest ones
// at the bottom age out. Safe for concurrent use.
type h1Pool struct {
	timeout time.Duration // idle time before a connection is closed; 0: no limit

	mu    sync.Mutex
	max   int       // idle connections kept; 0: none (set to 0 by shut)
	idle  []*h1Conn // oldest first
	timer *time.Timer
	armed bool // timer is pending
}

func newH1Pool(max int, timeout time.Duration) *h1Pool {
	return &h1Pool{max: max, timeout: timeout}
}

// get pops the newest idle connection that is within its idle time and,
// when probe is set, passes the liveness probe; the others met on the way
// are closed. It returns nil when none is left. It never blocks on I/O.
//
// The probe costs a system call, so it is kept for requests that could not
// be sent again: a stale connection fails a replayable request without a
// body before any response byte, and RoundTrip then sends it on a new one.
func (p *h1Pool) get(probe bool) *h1Conn {
	for {
		p.mu.Lock()
		n := len(p.idle)
		if n == 0 {
			p.mu.Unlock()
			return nil
		}
		c := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		if p.timeout > 0 && time.Since(c.idleAt) >= p.timeout || (probe && c.alive != nil && !c.alive()) {
			c.close()
			continue
		}
		return c
	}
}

// put adds c to the stack; false when the stack is full (the caller
// closes c).
func (p *h1Pool) put(c *h1Conn) bool {
	c.reused = true
	if p.timeout > 0 {
		c.idleAt = time.Now()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.idle) >= p.max {
		return false
	}
	p.idle = append(p.idle, c)
	if p.timeout > 0 && !p.armed {
		p.arm(p.timeout)
	}
	return true
}

// arm schedules reap after d; p.mu is held.
func (p *h1Pool) arm(d time.Duration) {
	p.armed = true
	if p.timer == nil {
		p.timer = time.AfterFunc(d, p.reap)
		return
	}
	p.timer.Reset(d)
}

// reap closes the connections idle for the timeout or longer and
// schedules itself for the oldest one left.
func (p *h1Pool) reap() {
	now := time.Now()
	p.mu.Lock()
	i := 0
	for i < len(p.idle) && now.Sub(p.idle[i].idleAt) >= p.timeout {
		i++
	}
	expired := make([]*h1Conn, i)
	copy(expired, p.idle[:i])
	n := copy(p.idle, p.idle[i:])
	clear(p.idle[n:])
	p.idle = p.idle[:n]
	p.armed = false
	if n > 0 {
		p.arm(p.timeout - now.Sub(p.idle[0].idleAt))
	}
	p.mu.Unlock()
	for _, c := range expired {
		c.close()
	}
}

// closeIdle closes every idle connection.
func (p *h1Pool) closeIdle() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, c := range idle {
		c.close()
	}
}

// shut closes the idle connections and keeps none from now on: put
// refuses, so a connection in use is closed when its exchange ends.
func (p *h1Pool) shut() {
	p.mu.Lock()
	p.max = 0
	idle := p.idle
	p.idle = nil
	if p.timer != nil {
		p.timer.Stop()
		p.armed = false
	}
	p.mu.Unlock()
	for _, c := range idle {
		c.close()
	}
}

// size returns the number of idle connections.
func (p *h1Pool) size() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}
