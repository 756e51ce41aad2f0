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

	"github.com/bouncer-proxy/bouncer/listener"
)

// h2Transport is the HTTP/2 client for h2c and h2 (TLS, ALPN) upstreams:
// a pool of multiplexed connections per endpoint address. A request takes
// a stream on the first connection with room under the peer's
// MAX_CONCURRENT_STREAMS; when every connection is full one more is
// dialed (one dial per address at a time, shared by the requests waiting
// for it). Connections quiet while streams are open are pinged and
// closed when the ping goes unanswered; connections without streams are
// closed after the idle timeout.
//
// It replaces x/net's Transport on the proxy path: that one runs a
// goroutine per request and re-indexes every forwarded header in its HPACK
// table, which together cost about as much CPU as the rest of a proxied
// gRPC call.
type h2Transport struct {
	dialConn func(ctx context.Context, addr string) (net.Conn, error)
	connect  time.Duration // dial and handshake bound
	idle     time.Duration // close connections without streams after this; 0: never

	mu    sync.Mutex
	conns map[string][]*h2Conn
	dials map[string]*h2Dial

	retired atomic.Bool // no longer the serving generation's: connections close once idle
}

// h2Dial is a connection being dialed; done closes when it is ready or
// failed.
type h2Dial struct {
	done chan struct{}
	err  error
}

// h2PingAfter is how long a connection with streams may stay silent
// before it is pinged; tickEvery never exceeds it.
const h2PingAfter = 30 * time.Second

func newH2Client(cfgProtocol string, tlsCfg *tls.Config, connect, idle time.Duration, dial dialFunc) *h2Transport {
	if connect <= 0 {
		connect = 10 * time.Second
	}
	t := &h2Transport{connect: connect, idle: idle, conns: map[string][]*h2Conn{}, dials: map[string]*h2Dial{}}
	t.dialConn = func(ctx context.Context, addr string) (net.Conn, error) {
		c, err := dial(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		if cfgProtocol == "h2c" {
			return listener.BatchWrites(c), nil
		}
		tc := tlsCfg.Clone()
		tc.NextProtos = []string{"h2"}
		if tc.ServerName == "" {
			host, _, _ := net.SplitHostPort(addr)
			tc.ServerName = host
		}
		tlsConn := tls.Client(c, tc)
		if err := tlsConn.HandshakeContext(ctx); err != nil {
			_ = c.Close()
			return nil, err
		}
		if p := tlsConn.ConnectionState().NegotiatedProtocol; p != "h2" {
			_ = c.Close()
			return nil, fmt.Errorf("proxy: upstream %s did not agree to h2 over TLS (ALPN %q)", addr, p)
		}
		return listener.BatchWrites(tlsConn), nil
	}
	return t
}

// tickEvery is the period of each connection's maintenance.
func (t *h2Transport) tickEvery() time.Duration {
	d := h2PingAfter
	if t.idle > 0 && t.idle < d {
		d = t.idle
	}
	return d / 2
}

// RoundTrip implements http.RoundTripper.
func (t *h2Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	addr := req.URL.Host
	if _, _, err := net.SplitHostPort(addr); err != nil {
		port := "80"
		if req.URL.Scheme == "https" {
			port = "443"
		}
		addr = net.JoinHostPort(addr, port)
	}
	for attempt := 0; ; attempt++ {
		cc, err := t.conn(req.Context(), addr)
		if err != nil {
			if req.Body != nil {
				_ = req.Body.Close()
			}
			return nil, err
		}
		res, err := cc.roundTrip(req)
		// A stream the upstream never processed goes again on another
		// connection, when there is no body that may have been read.
		if errors.Is(err, errH2Refused) && (req.Body == nil || req.Body == http.NoBody) && attempt < 2 {
			continue
		}
		return res, err
	}
}

// conn returns a connection with a stream slot reserved for the caller.
func (t *h2Transport) conn(ctx context.Context, addr string) (*h2Conn, error) {
	for {
		t.mu.Lock()
		for _, cc := range t.conns[addr] {
			if cc.reserve() {
				t.mu.Unlock()
				return cc, nil
			}
		}
		d := t.dials[addr]
		if d == nil {
			d = &h2Dial{done: make(chan struct{})}
			t.dials[addr] = d
			go t.dial(addr, d)
		}
		t.mu.Unlock()
		select {
		case <-d.done:
			if d.err != nil {
				return nil, d.err
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// dial makes one connection for addr and adds it to the pool. It runs on
// its own, bounded by the connect timeout, so that a request giving up
// does not fail the others waiting for the same connection.
func (t *h2Transport) dial(addr string, d *h2Dial) {
	ctx, cancel := context.WithTimeout(context.Background(), t.connect)
	defer cancel()
	nc, err := t.dialConn(ctx, addr)
	var cc *h2Conn
	if err == nil {
		cc, err = newH2Conn(t, addr, nc)
		if err != nil {
			_ = nc.Close()
		} else {
			err = cc.awaitSettings(ctx)
		}
	}
	t.mu.Lock()
	delete(t.dials, addr)
	switch {
	case err != nil:
	case cc.isClosed(): // ended right after its SETTINGS
		err = errH2Closed
	default:
		t.conns[addr] = append(t.conns[addr], cc)
	}
	t.mu.Unlock()
	d.err = err
	close(d.done)
}

// remove takes cc out of the pool (GOAWAY received, or closed).
func (t *h2Transport) remove(cc *h2Conn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	list := t.conns[cc.addr]
	for i, c := range list {
		if c == cc {
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(t.conns, cc.addr)
	} else {
		t.conns[cc.addr] = list
	}
}

// CloseIdleConnections closes the connections without streams.
func (t *h2Transport) CloseIdleConnections() {
	t.mu.Lock()
	var all []*h2Conn
	for _, list := range t.conns {
		all = append(all, list...)
	}
	t.mu.Unlock()
	for _, cc := range all {
		cc.shutdownIfIdle()
	}
}

// retire is called when the transport is no longer the serving
// generation's: connections without streams close now, the others as
// their last stream ends.
func (t *h2Transport) retire() {
	t.retired.Store(true)
	t.CloseIdleConnections()
}
