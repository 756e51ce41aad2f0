package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
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

	mu    sync.Mutex                         // serializes pool creation
	pools atomic.Pointer[map[string]*h1Pool] // endpoint address -> pool; copied on write
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
}

func newH1Transport(o h1Options) *h1Transport {
	t := &h1Transport{
		dial:        o.dial,
		handshake:   o.handshake,
		maxIdle:     o.maxIdle,
		idleTimeout: o.idleTimeout,
		fallback:    o.fallback,
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

// pool returns the idle stack of addr, made on first use.
func (t *h1Transport) pool(addr string) *h1Pool {
	if m := t.pools.Load(); m != nil {
		if p, ok := (*m)[addr]; ok {
			return p
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	old := t.pools.Load()
	var n int
	if old != nil {
		if p, ok := (*old)[addr]; ok {
			return p
		}
		n = len(*old)
	}
	m := make(map[string]*h1Pool, n+1)
	if old != nil {
		for k, v := range *old {
			m[k] = v
		}
	}
	p := newH1Pool(t.maxIdle, t.idleTimeout)
	m[addr] = p
	t.pools.Store(&m)
	return p
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
