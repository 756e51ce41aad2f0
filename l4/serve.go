// Package l4 serves TCP routes: after the router has matched a
// connection (package l4/router, on what package l4/peek learned), Serve
// opens a connection to an endpoint of the route's upstream (trying the
// next on a connect failure), optionally sends a PROXY protocol header and
// re-encrypts, then copies bytes both ways (package l4/tcpproxy) and logs
// and counts the connection.
package l4

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/bouncer-proxy/bouncer/l4/peek"
	"github.com/bouncer-proxy/bouncer/l4/tcpproxy"
	"github.com/bouncer-proxy/bouncer/l4/upstream"
	"github.com/bouncer-proxy/bouncer/listener/proxyproto"
)

// Route is a compiled TCP route. Immutable once built.
type Route struct {
	Name      string
	Kind      string // tcp, passthrough or terminate
	Cluster   *upstream.Cluster
	Tries     int              // endpoints tried when connecting fails
	Connect   time.Duration    // timeout of one connection attempt
	Pipe      tcpproxy.Options // idle timeout, lifetime
	Terminate *tls.Config      // terminate: the listener's server config
	Upstream  *tls.Config      // TLS to the endpoints (nil: plain TCP); passthrough never re-encrypts
	SendProxy int              // PROXY protocol version sent to endpoints (0: none)
	HashSNI   bool             // ring_hash/maglev key: the server name instead of the client address
	AccessLog bool             // write the connection's line to Server.Log
}

// Conn is one routed connection and what is known about it.
type Conn struct {
	Listener string
	Raw      net.Conn       // the client socket (after any PROXY header)
	Hello    peek.Hello     // what the peek learned
	Peeked   []byte         // bytes read by the peek, to send on first
	Client   netip.AddrPort // the client (from the PROXY header when trusted)
	Local    netip.AddrPort // where it arrived
}

// Server serves routed connections. Safe for concurrent use.
type Server struct {
	Log     *slog.Logger // access log: one line per connection (nil: none)
	Metrics *Metrics     // nil: none
	// HandshakeTimeout bounds a terminate route's TLS handshake.
	HandshakeTimeout time.Duration

	mu   sync.Mutex
	live map[string]map[*liveConn]struct{} // by upstream name
	kept map[string]bool                   // upstreams the last Retain kept (nil: no Retain yet)
}

// errUpstreamRemoved names the end of connections to an upstream a reload
// removed.
var errUpstreamRemoved = errors.New("upstream_removed")

// liveConn is a connection being served, as Retain sees it.
type liveConn struct {
	mu      sync.Mutex
	socks   [2]net.Conn // client and upstream sockets, once known
	removed bool        // a reload removed the upstream
}

// end closes the connection's sockets (which ends its pipe) and marks it,
// so that Serve reports upstream_removed.
func (l *liveConn) end() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.removed = true
	for _, c := range l.socks {
		if c != nil {
			_ = c.Close()
		}
	}
}

// attach records a socket; one that arrives after end is closed at once.
func (l *liveConn) attach(i int, c net.Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.socks[i] = c
	if l.removed {
		_ = c.Close()
	}
}

func (l *liveConn) wasRemoved() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.removed
}

// Retain ends the connections to upstreams whose names are not in keep (a
// reload removed them); the others go on on the route they started with.
func (s *Server) Retain(keep map[string]bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kept = make(map[string]bool, len(keep))
	for name := range keep {
		s.kept[name] = true
	}
	for name, conns := range s.live {
		if keep[name] {
			continue
		}
		for l := range conns {
			l.end()
		}
	}
}

// track registers a connection to upstream until the returned func runs.
// A connection routed on a table that a reload has just replaced may get
// here after Retain removed its upstream: it is ended at once.
func (s *Server) track(upstream string, l *liveConn) func() {
	s.mu.Lock()
	if s.kept != nil && !s.kept[upstream] {
		l.end()
	}
	if s.live == nil {
		s.live = map[string]map[*liveConn]struct{}{}
	}
	set := s.live[upstream]
	if set == nil {
		set = map[*liveConn]struct{}{}
		s.live[upstream] = set
	}
	set[l] = struct{}{}
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		delete(s.live[upstream], l)
		if len(s.live[upstream]) == 0 {
			delete(s.live, upstream)
		}
		s.mu.Unlock()
	}
}

// Serve proxies c over rt until either side is done or ctx ends; it
// closes c. Each socket is closed once (the pipe closes both once it
// runs): a second Close costs an error value and a trip into the runtime.
func (s *Server) Serve(ctx context.Context, rt *Route, c *Conn) {
	start := time.Now()
	var live liveConn
	live.attach(0, c.Raw)
	defer s.track(rt.Cluster.Name(), &live)()
	var rs *routeSeries
	if s.Metrics != nil {
		rs = s.Metrics.series(c.Listener, rt.Name)
		rs.active.Inc()
		defer rs.active.Dec()
	}
	if live.wasRemoved() { // the client socket is closed already
		s.finish(c, rt, rs, nil, tcpproxy.Result{Reason: tcpproxy.Reason(errUpstreamRemoved.Error())}, errors.New("a reload removed the route's upstream"))
		return
	}
	release, ok := rt.Cluster.AcquireConn()
	if !ok {
		_ = c.Raw.Close()
		s.finish(c, rt, rs, nil, tcpproxy.Result{Reason: "upstream_max_connections"}, errors.New("the upstream's circuit_breaker.max_connections is reached"))
		return
	}
	defer release()
	client, prefix, err := s.clientSide(ctx, rt, c)
	if err != nil {
		_ = c.Raw.Close()
		s.finish(c, rt, rs, nil, tcpproxy.Result{Reason: "tls_handshake_failed", Duration: time.Since(start)}, err)
		return
	}
	up, ep, err := s.dial(ctx, rt, rs, c)
	if err != nil {
		_ = client.Close()
		s.finish(c, rt, rs, nil, tcpproxy.Result{Reason: "connect_failed", Duration: time.Since(start)}, err)
		return
	}
	live.attach(1, up)
	res := tcpproxy.Pipe(ctx, client, up, prefix, rt.Pipe) // closes both
	if live.wasRemoved() {
		res.Reason = tcpproxy.Reason(errUpstreamRemoved.Error())
	}
	ep.Done(upstream.Result{Reset: res.Reason == tcpproxy.ReasonUpstreamError})
	s.finish(c, rt, rs, ep, res, nil)
}

// clientSide is the client connection the pipe reads: the raw socket with
// the peeked bytes as a prefix, or for terminate the TLS connection
// (whose handshake consumed the peeked bytes).
func (s *Server) clientSide(ctx context.Context, rt *Route, c *Conn) (net.Conn, []byte, error) {
	if rt.Terminate == nil {
		return c.Raw, c.Peeked, nil
	}
	tc := tls.Server(peek.NewConn(c.Raw, c.Peeked), rt.Terminate)
	hctx, cancel := context.WithTimeout(ctx, s.handshakeTimeout())
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		return nil, nil, fmt.Errorf("tls handshake: %w", err)
	}
	return tc, nil, nil
}

func (s *Server) handshakeTimeout() time.Duration {
	if s.HandshakeTimeout > 0 {
		return s.HandshakeTimeout
	}
	return 10 * time.Second
}

// errNoEndpoint is the error of a route whose upstream has no endpoint to try.
var errNoEndpoint = errors.New("no endpoint could be reached")

// dial connects to an endpoint of rt's upstream, trying another one (up
// to rt.Tries) when connecting fails, and sends what goes before the
// client's bytes: a PROXY header, a TLS handshake.
func (s *Server) dial(ctx context.Context, rt *Route, rs *routeSeries, c *Conn) (net.Conn, *upstream.Endpoint, error) {
	key, hashed := s.hashKey(rt, c)
	var tried []*upstream.Endpoint
	var last error = errNoEndpoint
	for range max(rt.Tries, 1) {
		ep, err := rt.Cluster.Pick(key, hashed, tried)
		if err != nil {
			return nil, nil, errors.Join(last, err)
		}
		tried = append(tried, ep)
		ep.Start()
		t0 := time.Now()
		conn, err := s.connect(ctx, rt, c, ep)
		if rs != nil {
			rs.connectTime.Observe(time.Since(t0).Seconds())
		}
		if err == nil {
			return conn, ep, nil
		}
		ep.Done(upstream.Result{ConnectFailure: true})
		if s.Metrics != nil {
			s.Metrics.connectErrors.WithLabelValues(rt.Name, ep.Address()).Inc()
		}
		last = fmt.Errorf("%s: %w", ep.Address(), err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, nil, last
}

func (s *Server) hashKey(rt *Route, c *Conn) (uint64, bool) {
	if !rt.Cluster.Hashed() {
		return 0, false
	}
	if rt.HashSNI && c.Hello.SNI != "" {
		return upstream.HashKey(c.Hello.SNI), true
	}
	return upstream.HashKey(c.Client.Addr().String()), true
}

func (s *Server) connect(ctx context.Context, rt *Route, c *Conn, ep *upstream.Endpoint) (net.Conn, error) {
	// No keep-alive probes to endpoints: the route's idle timeout ends a
	// silent connection, and Go's four setsockopt calls per dial showed in
	// the cost of short connections.
	// Not Dialer.DialTCP with a zero local address: it binds 0.0.0.0:0
	// before connecting (a system call more), so every dial needs a local
	// port no other socket holds, and under connection churn TIME_WAIT
	// sockets use them up (measured here: dials failing with ~99k sockets
	// in TIME_WAIT). A connect without bind shares ports across destinations.
	d := net.Dialer{Timeout: rt.Connect, KeepAlive: -1}
	conn, err := d.DialContext(ctx, "tcp", ep.Address())
	if err != nil {
		return nil, err
	}
	if rt.SendProxy != 0 {
		if err := writeProxyHeader(conn, rt.SendProxy, c); err != nil {
			conn.Close()
			return nil, err
		}
	}
	if rt.Upstream != nil {
		cfg := rt.Upstream
		if cfg.ServerName == "" && c.Hello.SNI != "" {
			cfg = cfg.Clone()
			cfg.ServerName = c.Hello.SNI
		}
		tc := tls.Client(conn, cfg)
		hctx, cancel := context.WithTimeout(ctx, rt.Connect)
		defer cancel()
		if err := tc.HandshakeContext(hctx); err != nil {
			conn.Close()
			return nil, fmt.Errorf("tls to endpoint: %w", err)
		}
		return tc, nil
	}
	return conn, nil
}

// writeProxyHeader sends the client's addresses (and, in v2, the SNI and
// the first ALPN offer) ahead of its bytes.
func writeProxyHeader(conn net.Conn, version int, c *Conn) error {
	h := proxyproto.NewTCP(version, c.Client, c.Local)
	if version == 2 {
		if c.Hello.SNI != "" {
			h.TLVs = append(h.TLVs, proxyproto.TLV{Type: proxyproto.TypeAuthority, Value: []byte(c.Hello.SNI)})
		}
		if len(c.Hello.ALPN) > 0 {
			h.TLVs = append(h.TLVs, proxyproto.TLV{Type: proxyproto.TypeALPN, Value: []byte(c.Hello.ALPN[0])})
		}
	}
	b, err := h.Append(nil)
	if err != nil {
		return fmt.Errorf("proxy protocol header: %w", err)
	}
	_, err = conn.Write(b)
	return err
}

// finish logs and counts one connection.
func (s *Server) finish(c *Conn, rt *Route, rs *routeSeries, ep *upstream.Endpoint, res tcpproxy.Result, err error) {
	if rs != nil {
		rs.ended(string(res.Reason))
		rs.in.Add(float64(res.BytesIn))
		rs.out.Add(float64(res.BytesOut))
	}
	if s.Log == nil || !rt.AccessLog {
		return
	}
	endpoint := ""
	if ep != nil {
		endpoint = ep.Address()
	}
	attrs := []slog.Attr{
		slog.String("listener", c.Listener),
		slog.String("client", c.Client.String()),
		slog.String("sni", c.Hello.SNI),
		slog.String("route", rt.Name),
		slog.String("upstream", rt.Cluster.Name()),
		slog.String("endpoint", endpoint),
		slog.Int64("bytes_in", res.BytesIn),
		slog.Int64("bytes_out", res.BytesOut),
		slog.Float64("duration_ms", float64(res.Duration.Microseconds())/1000),
		slog.String("close", string(res.Reason)),
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	s.Log.LogAttrs(context.Background(), slog.LevelInfo, "connection", attrs...)
}
