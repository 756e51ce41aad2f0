// Package tcpproxy pumps bytes between an accepted client connection and an
// upstream connection: both directions at once, half-close propagated, the
// kernel's splice(2) used when both ends are plain TCP sockets.
package tcpproxy

import (
	"context"
	"math"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Options tune one Pipe. The zero value means no timeouts and the default
// buffer size.
type Options struct {
	// IdleTimeout closes the pipe when no byte has moved in either direction
	// for this long (0: never). Detection may be up to IdleTimeout/2 late.
	IdleTimeout time.Duration
	// MaxLifetime closes the pipe this long after Pipe was called (0: never),
	// plus a random extra in [0, Jitter] so that connections opened together
	// do not all close together.
	MaxLifetime time.Duration
	Jitter      time.Duration
	// BufferSize is the copy buffer of the buffered path (default 32 KiB;
	// buffers of the default size are pooled). The splice path uses none.
	BufferSize int
	// Stats, when set, accumulates byte counts by copy path. It may be shared
	// by many pipes.
	Stats *Stats
}

// Reason says why a pipe ended. It is a short lower_snake_case word fit for
// logs and metric labels.
type Reason string

// The reasons a pipe ends. When a peer half-closes and later an error or a
// timeout ends the pipe, the later, harder reason is reported.
const (
	ReasonClientClosed   Reason = "client_closed"   // the client sent FIN first
	ReasonUpstreamClosed Reason = "upstream_closed" // the upstream sent FIN first
	ReasonIdleTimeout    Reason = "idle_timeout"
	ReasonMaxLifetime    Reason = "max_lifetime"
	ReasonClientError    Reason = "client_error"   // reset or I/O error on the client socket
	ReasonUpstreamError  Reason = "upstream_error" // reset or I/O error on the upstream socket
	ReasonShutdown       Reason = "shutdown"       // ctx was cancelled
)

// Result reports one finished pipe.
type Result struct {
	BytesIn  int64 // client to upstream, the prefix included
	BytesOut int64 // upstream to client
	Reason   Reason
	Duration time.Duration
	Spliced  bool // both ends were TCP sockets: bulk transfers (past the first full buffer) went by splice(2)
}

// Pipe copies client to upstream and upstream to client until both
// directions are done, and returns what happened. It blocks; the caller
// runs it on the connection's goroutine.
//
// Pipe owns both connections: it clears their deadlines at the start and
// closes both before it returns. prefix holds bytes already read from the
// client (the router's peek); they are written to the upstream first and
// count in BytesIn.
//
// When a side's read ends with EOF, the other side's write half is shut
// (CloseWrite, a TCP FIN) and the opposite direction keeps flowing, so a
// client that half-closes still receives its reply. A connection that cannot
// half-close ends the pipe instead. A reset or I/O error on either socket
// closes both. Cancelling ctx closes both with ReasonShutdown.
//
// When both connections unwrap to *net.TCPConn (directly or through
// TCPConner), data moves with (*net.TCPConn).ReadFrom, which the runtime
// turns into splice(2); otherwise through a buffer.
func Pipe(ctx context.Context, client, upstream net.Conn, prefix []byte, o Options) Result {
	start := time.Now()
	p := newPipe(client, upstream, o)
	_ = client.SetDeadline(time.Time{})
	_ = upstream.SetDeadline(time.Time{})

	in := p.direction(client, upstream, true)
	out := p.direction(upstream, client, false)
	in.prefix = prefix
	stop := p.watch(ctx, start)
	// One goroutine for the way back; the way in runs on the caller's.
	outDone := make(chan struct{})
	go func() {
		defer close(outDone)
		out.run()
	}()
	in.run()
	<-outDone
	stop()
	p.closeBoth()
	in.release()
	out.release()
	return Result{
		BytesIn:  p.bytesIn.Load(),
		BytesOut: p.bytesOut.Load(),
		Reason:   p.verdict.get(),
		Duration: time.Since(start),
		Spliced:  in.spliced() && out.spliced(),
	}
}

// pipe is the state the two directions and the watchdog share.
type pipe struct {
	client, upstream net.Conn
	o                Options
	tick             time.Duration // read deadline step and idle check period; 0 without IdleTimeout
	last             atomic.Int64  // unix nanoseconds of the latest byte moved
	bytesIn          atomic.Int64
	bytesOut         atomic.Int64
	verdict          verdict
	closeOnce        sync.Once
	eofs             atomic.Int32 // directions that have seen EOF
	over             atomic.Bool  // Pipe is returning: the idle check stops re-arming
	idle             atomic.Pointer[time.Timer]
}

func newPipe(client, upstream net.Conn, o Options) *pipe {
	if o.BufferSize <= 0 {
		o.BufferSize = defaultBufferSize
	}
	p := &pipe{client: client, upstream: upstream, o: o}
	if o.IdleTimeout > 0 {
		p.tick = max(o.IdleTimeout/4, time.Millisecond)
	}
	p.touch()
	return p
}

// watch arranges for the pipe to be aborted early: ctx cancelled, lifetime
// over, idle too long. It starts no goroutine: the runtime's timers and
// context.AfterFunc call back, and aborting closes both sockets, which ends
// both directions. The returned func cancels all of it.
func (p *pipe) watch(ctx context.Context, start time.Time) (stop func()) {
	var lifetime *time.Timer
	if p.o.MaxLifetime > 0 {
		d := p.o.MaxLifetime
		if p.o.Jitter > 0 {
			d += rand.N(p.o.Jitter + 1)
		}
		lifetime = time.AfterFunc(d-time.Since(start), func() { p.abort(ReasonMaxLifetime) })
	}
	if p.tick > 0 {
		// Armed only once published, so the callback always finds it.
		t := time.AfterFunc(time.Duration(math.MaxInt64), p.checkIdle)
		p.idle.Store(t)
		t.Reset(p.tick)
	}
	stopCtx := func() bool { return false }
	if ctx.Done() != nil {
		stopCtx = context.AfterFunc(ctx, func() { p.abort(ReasonShutdown) })
	}
	return func() {
		p.over.Store(true)
		stopCtx()
		if lifetime != nil {
			lifetime.Stop()
		}
		if t := p.idle.Load(); t != nil {
			t.Stop()
		}
	}
}

// checkIdle runs every tick on the runtime's timer: it aborts a pipe that
// has moved nothing for IdleTimeout, else re-arms the timer.
func (p *pipe) checkIdle() {
	t := p.idle.Load()
	if p.over.Load() || t == nil {
		return
	}
	if time.Now().UnixNano()-p.last.Load() >= int64(p.o.IdleTimeout) {
		p.abort(ReasonIdleTimeout)
		return
	}
	t.Reset(p.tick)
}

// touch records that bytes moved just now.
func (p *pipe) touch() { p.last.Store(time.Now().UnixNano()) }

// abort ends the pipe for reason r unless an earlier hard reason did; it
// closes both sockets, which unblocks both directions.
func (p *pipe) abort(r Reason) {
	p.verdict.hard(r)
	p.closeBoth()
}

// end closes both sockets keeping the reason found so far, so that the
// errors the closing causes are not taken for the reason.
func (p *pipe) end() {
	p.verdict.seal()
	p.closeBoth()
}

func (p *pipe) closeBoth() {
	p.closeOnce.Do(func() {
		// A side that failed (a reset, an I/O error) is passed on as a
		// reset, not as an orderly FIN that would read as a complete stream.
		switch p.verdict.get() {
		case ReasonClientError:
			abortive(p.upstream)
		case ReasonUpstreamError:
			abortive(p.client)
		}
		_ = p.client.Close()
		_ = p.upstream.Close()
	})
}

// abortive makes closing c send a TCP reset (SO_LINGER 0), when c is or
// unwraps to a TCP socket.
func abortive(c net.Conn) {
	if l, ok := c.(interface{ SetLinger(int) error }); ok {
		_ = l.SetLinger(0)
	} else if tc := unwrapTCP(c); tc != nil {
		_ = tc.SetLinger(0)
	}
}

// verdict keeps the reason a pipe ended. A soft reason (a FIN) is kept only
// if nothing else happened; the first hard reason (error, timeout, shutdown)
// wins over soft ones and over later hard ones, which are then consequences
// of the first (reads on sockets it closed).
type verdict struct {
	mu    sync.Mutex
	r     Reason
	final bool
}

func (v *verdict) soft(r Reason) {
	v.mu.Lock()
	if v.r == "" {
		v.r = r
	}
	v.mu.Unlock()
}

func (v *verdict) hard(r Reason) {
	v.mu.Lock()
	if !v.final {
		v.r, v.final = r, true
	}
	v.mu.Unlock()
}

func (v *verdict) seal() {
	v.mu.Lock()
	v.final = true
	v.mu.Unlock()
}

func (v *verdict) get() Reason {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.r
}
