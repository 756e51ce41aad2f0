package h3

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// retryGate decides, for quic.Transport.VerifySourceAddress, whether a new
// connection attempt must first prove its address with a Retry (RFC 9000
// section 8.1.2). Retry costs every client a round trip, so it is forced
// only while the handshake rate is above the limit: a flood of spoofed
// Initials then costs the server one stateless packet each instead of a
// handshake.
type retryGate struct {
	limit int
	now   func() time.Time

	mu     sync.Mutex
	second int64 // the Unix second being counted
	count  int   // attempts seen in that second

	retries atomic.Uint64
}

// newRetryGate allows limit handshakes per second before forcing Retry.
func newRetryGate(limit int, now func() time.Time) *retryGate {
	return &retryGate{limit: limit, now: now}
}

// verify counts one connection attempt (an Initial packet without an
// address token for no known connection) and reports whether it must do
// a Retry. quic-go calls it from its packet loop, so it must not block.
func (g *retryGate) verify(net.Addr) bool {
	sec := g.now().Unix()
	g.mu.Lock()
	if sec != g.second {
		g.second, g.count = sec, 0
	}
	g.count++
	over := g.count > g.limit
	g.mu.Unlock()
	if over {
		g.retries.Add(1)
	}
	return over
}
