package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// h1Transport is the RoundTripper of http1 upstreams. The calling
// goroutine does the exchange itself: it takes an idle connection of the
// endpoint (or dials one through dial, which enforces max_connections),
// writes the head, reads the response head and returns a response whose
// body streams off the connection and hands it back to the pool at a
// clean end. No goroutine per connection, no channel hand-offs; a writer
// goroutine only for requests with a body.
//
// Requests it does not handle go to fallback: protocol upgrades, Expect
// (100-continue) and CONNECT.
type h1Transport struct {
	dial        dialFunc
	tls         *tls.Config // nil: plain TCP; else ALPN http/1.1
	handshake   time.Duration
	maxIdle     int
	idleTimeout time.Duration
	fallback    *http.Transport
	endpoints   func() (map[string]bool, bool) // the upstream's endpoint addresses; nil: unknown

	mu      sync.Mutex                         // serializes changes of pools
	pools   atomic.Pointer[map[string]*h1Pool] // endpoint address -> pool; copied on write
	retired atomic.Bool                        // no longer the serving generation's: pools keep nothing
}

var _ http.RoundTripper = (*h1Transport)(nil)

// h1Options configures an h1Transport.
type h1Options struct {
	dial        dialFunc
	tls         *tls.Config // nil: plain TCP
	handshake   time.Duration
	maxIdle     int
	idleTimeout time.Duration
	fallback    *http.Transport
	endpoints   func() (map[string]bool, bool) // nil: pools are never pruned
}

func newH1Transport(o h1Options) *h1Transport {
	t := &h1Transport{
		dial:        o.dial,
		handshake:   o.handshake,
		maxIdle:     o.maxIdle,
		idleTimeout: o.idleTimeout,
		fallback:    o.fallback,
		endpoints:   o.endpoints,
	}
	if o.tls != nil {
		t.tls = o.tls.Clone()
		t.tls.NextProtos = []string{"http/1.1"}
	}
	return t
}

// RoundTrip sends req to the endpoint req.URL.Host and returns the
// response once its head has arrived. A connection found stale on reuse
// is replaced by a new one once, when the request can safely be sent
// again. Errors keep their cause for errors.Is/As: dial errors
// (*net.OpError "dial", errCircuitOpen), the client body's errors (such as
// *http.MaxBytesError), and the context's error when req.Context() ends.
func (t *h1Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if useFallback(req) {
		return t.fallback.RoundTrip(req)
	}
	if req.URL == nil || req.URL.Host == "" {
		closeRequestBody(req)
		return nil, errors.New("proxy: request has no upstream address")
	}
	if err := req.Context().Err(); err != nil {
		closeRequestBody(req)
		return nil, fmt.Errorf("proxy: upstream exchange ended: %w", err)
	}
	addr := req.URL.Host
	p := t.pool(addr)
	hasBody := req.Body != nil && req.Body != http.NoBody
	c := p.get(hasBody || !replayable(req))
	for retried := false; ; retried = true {
		if c == nil {
			nc, err := t.connect(req.Context(), addr)
			if err != nil {
				closeRequestBody(req)
				return nil, err
			}
			c = newH1Conn(nc, p)
		}
		res, retry, err := c.roundTrip(req)
		if err == nil {
			return res, nil
		}
		if !retry || retried {
			if c.wstate.Load() == writeNone {
				closeRequestBody(req)
			}
			return nil, err
		}
		c = nil
	}
}

// CloseIdleConnections closes the pooled connections of every endpoint,
// and the fallback's.
func (t *h1Transport) CloseIdleConnections() {
	if m := t.pools.Load(); m != nil {
		for _, p := range *m {
			p.closeIdle()
		}
	}
	t.fallback.CloseIdleConnections()
}

// pool returns the idle stack of addr, made on first use. A new address
// means the endpoints may have changed (DNS answers do without a reload),
// so the pools of addresses that are gone are pruned then.
func (t *h1Transport) pool(addr string) *h1Pool {
	if m := t.pools.Load(); m != nil {
		if p, ok := (*m)[addr]; ok {
			return p
		}
	}
	t.mu.Lock()
	old := t.pools.Load()
	if old != nil {
		if p, ok := (*old)[addr]; ok {
			t.mu.Unlock()
			return p
		}
	}
	m := make(map[string]*h1Pool, len(pointee(old))+1)
	maps.Copy(m, pointee(old))
	p := newH1Pool(t.maxIdle, t.idleTimeout)
	if t.retired.Load() {
		p.shut()
	}
	m[addr] = p
	t.pools.Store(&m)
	t.mu.Unlock()
	t.prune()
	return p
}

// pointee is *m, or nil for a nil m.
func pointee(m *map[string]*h1Pool) map[string]*h1Pool {
	if m == nil {
		return nil
	}
	return *m
}

// prune drops the pools of addresses that are no longer endpoints of the
// upstream (a reload or a DNS refresh removed them): their idle
// connections close now, busy ones when their exchange ends. It is run
// when a new address shows up and when a reload commits.
func (t *h1Transport) prune() {
	if t.endpoints == nil {
		return
	}
	live, ok := t.endpoints()
	if !ok {
		return
	}
	var gone []*h1Pool
	t.mu.Lock()
	old := pointee(t.pools.Load())
	m := make(map[string]*h1Pool, len(old))
	for addr, p := range old {
		if live[addr] {
			m[addr] = p
		} else {
			gone = append(gone, p)
		}
	}
	if len(gone) > 0 {
		t.pools.Store(&m)
	}
	t.mu.Unlock()
	for _, p := range gone {
		p.shut()
	}
}

// retire is called when the transport is no longer the serving
// generation's: idle connections close, and none is kept from now on.
func (t *h1Transport) retire() {
	t.retired.Store(true)
	t.mu.Lock() // a pool made from now on sees retired
	pools := pointee(t.pools.Load())
	t.mu.Unlock()
	for _, p := range pools {
		p.shut()
	}
	t.fallback.CloseIdleConnections()
}

// connect dials addr and, for TLS upstreams, completes the handshake
// within the connect timeout.
func (t *h1Transport) connect(ctx context.Context, addr string) (net.Conn, error) {
	nc, err := t.dial(ctx, "tcp", addr)
	if err != nil || t.tls == nil {
		return nc, err
	}
	cfg := t.tls
	if cfg.ServerName == "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			host = addr
		}
		cfg = cfg.Clone()
		cfg.ServerName = host
	}
	if t.handshake > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t.handshake)
		defer cancel()
	}
	tc := tls.Client(nc, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		_ = nc.Close()
		return nil, fmt.Errorf("proxy: tls handshake with upstream: %w", err)
	}
	return tc, nil
}

// useFallback reports whether req needs what only net/http's transport
// does: switching protocols, waiting for 100 Continue, or CONNECT.
func useFallback(req *http.Request) bool {
	if req.Method == http.MethodConnect {
		return true
	}
	_, upgrade := req.Header["Upgrade"]
	_, expect := req.Header["Expect"]
	return upgrade || expect
}

func closeRequestBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}
