package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/bouncer-proxy/bouncer/configs"
	"github.com/bouncer-proxy/bouncer/l4/upstream"
	"github.com/bouncer-proxy/bouncer/listener"
	"github.com/bouncer-proxy/bouncer/tls/mtls"
)

// errCircuitOpen is returned by the dialer when an upstream's
// max_connections is reached; the proxy answers 503 without counting it
// against the endpoint.
var errCircuitOpen = errors.New("upstream connection limit reached")

// ConnGate limits upstream connections; upstream.Cluster implements it.
type ConnGate interface {
	AcquireConn() (release func(), ok bool)
}

// Transports keeps one pooled RoundTripper per upstream across reloads, so
// that keep-alive connections survive a config change that does not touch
// the upstream's transport settings. Safe for concurrent use.
//
// It follows the config lifecycle: Get, while a generation is built,
// changes nothing the serving generation uses; Retain, once the new
// generation is swapped in, commits what Get returned; Abort forgets it
// when the build or the swap failed.
type Transports struct {
	mu      sync.Mutex
	m       map[string]*transportEntry // what the serving generation uses
	pending map[string]*transportEntry // what Get returned for the generation being built
}

type transportEntry struct {
	key  string // settings fingerprint
	gate *gateRef
	rt   http.RoundTripper

	// Pending entries only.
	next ConnGate // the gate gate switches to at commit
	live bool     // rt is the serving generation's (settings unchanged)
}

// gateRef lets a reused transport's dialer see the newest cluster's limits.
type gateRef struct {
	mu   sync.RWMutex
	gate ConnGate
}

func (g *gateRef) get() ConnGate {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.gate
}

func (g *gateRef) set(gate ConnGate) {
	g.mu.Lock()
	g.gate = gate
	g.mu.Unlock()
}

// endpointLister is a gate that knows its upstream's current endpoints;
// upstream.Cluster is one.
type endpointLister interface {
	Endpoints() []*upstream.Endpoint
}

// addrs returns the addresses of the gate's current endpoints; false when
// the gate does not list them.
func (g *gateRef) addrs() (map[string]bool, bool) {
	l, ok := g.get().(endpointLister)
	if !ok {
		return nil, false
	}
	eps := l.Endpoints()
	m := make(map[string]bool, len(eps))
	for _, e := range eps {
		m[e.Address()] = true
	}
	return m, true
}

// NewTransports makes an empty set.
func NewTransports() *Transports {
	return &Transports{m: map[string]*transportEntry{}, pending: map[string]*transportEntry{}}
}

// Get returns the transport the generation being built is to use for
// upstream name with cfg: the serving one when its settings are
// unchanged, else a new one. The serving generation is not affected:
// the reused transport keeps dialing under the current cluster's limits,
// and the one it replaces keeps its connections, until Retain. The
// scheme to put in request URLs is returned too ("http" or "https").
func (t *Transports) Get(name string, cfg configs.Upstream, gate ConnGate) (http.RoundTripper, string, error) {
	key := fingerprint(cfg)
	scheme := "http"
	if cfg.TLS != nil || cfg.Protocol == "h3" {
		scheme = "https"
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if p, ok := t.pending[name]; ok && p.key == key {
		p.next = gate
		if !p.live {
			p.gate.set(gate) // not serving yet
		}
		return p.rt, scheme, nil
	}
	if e, ok := t.m[name]; ok && e.key == key {
		t.setPending(name, &transportEntry{key: key, gate: e.gate, rt: e.rt, next: gate, live: true})
		return e.rt, scheme, nil
	}
	ref := &gateRef{gate: gate}
	rt, err := newTransport(cfg, ref)
	if err != nil {
		return nil, "", err
	}
	t.setPending(name, &transportEntry{key: key, gate: ref, rt: rt, next: gate})
	return rt, scheme, nil
}

// setPending records e for name, retiring a transport made for a build
// that never committed.
func (t *Transports) setPending(name string, e *transportEntry) {
	if old, ok := t.pending[name]; ok && !old.live {
		retire(old.rt)
	}
	t.pending[name] = e
}

// Retain commits the generation just swapped in, whose upstreams are
// names: the transports Get returned for it are kept (a reused one now
// dials under the new cluster's limits, and drops the pools of addresses
// that are no longer endpoints); those they replace, and those of
// upstreams that are gone, are retired (idle connections close now,
// busy ones when their request ends). Call it after the swap.
func (t *Transports) Retain(names map[string]bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for name, p := range t.pending {
		if !names[name] {
			if !p.live {
				retire(p.rt)
			}
			continue
		}
		p.gate.set(p.next)
		if old, ok := t.m[name]; ok && old.rt != p.rt {
			retire(old.rt)
		}
		t.m[name] = &transportEntry{key: p.key, gate: p.gate, rt: p.rt}
	}
	clear(t.pending)
	for name, e := range t.m {
		if !names[name] {
			retire(e.rt)
			delete(t.m, name)
			continue
		}
		if pr, ok := e.rt.(interface{ prune() }); ok {
			pr.prune()
		}
	}
}

// Abort forgets what Get returned for a generation that will not be
// swapped in (its build or its swap failed): transports made for it are
// retired, the serving ones are left as they are.
func (t *Transports) Abort() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, p := range t.pending {
		if !p.live {
			retire(p.rt)
		}
	}
	clear(t.pending)
}

// CloseIdle closes idle connections of every transport.
func (t *Transports) CloseIdle() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, e := range t.m {
		closeIdle(e.rt)
	}
	for _, p := range t.pending {
		closeIdle(p.rt)
	}
}

func closeIdle(rt http.RoundTripper) {
	if c, ok := rt.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// retire tells rt it is no longer the serving generation's: the
// transports of this package close their idle connections and keep none
// from then on (requests of the old generation still in flight may end
// on it); others close their idle connections.
func retire(rt http.RoundTripper) {
	if r, ok := rt.(interface{ retire() }); ok {
		r.retire()
		return
	}
	closeIdle(rt)
}

func fingerprint(cfg configs.Upstream) string {
	tlsKey := "none"
	if cfg.TLS != nil {
		tlsKey = fmt.Sprintf("%+v", *cfg.TLS)
	}
	return fmt.Sprintf("%s|%s|%d|%d|%d", cfg.Protocol, tlsKey, cfg.ConnectTimeout, cfg.IdleConns, cfg.IdleTimeout)
}

func newTransport(cfg configs.Upstream, gate *gateRef) (http.RoundTripper, error) {
	tlsCfg, err := upstreamTLS(cfg.TLS)
	if err != nil {
		return nil, err
	}
	dialer := &net.Dialer{Timeout: cfg.ConnectTimeout.D(), KeepAlive: 30 * time.Second}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		release := func() {}
		if g := gate.get(); g != nil {
			r, ok := g.AcquireConn()
			if !ok {
				return nil, errCircuitOpen
			}
			release = r
		}
		c, err := dialer.DialContext(ctx, network, addr)
		if err != nil {
			release()
			return nil, err
		}
		return listener.OnClose(c, release), nil
	}
	switch cfg.Protocol {
	case "h2c", "h2":
		return newH2Transport(cfg, tlsCfg, dial), nil
	case "h3":
		return newH3Transport(cfg, tlsCfg, gate), nil
	}
	return newHTTP1Transport(cfg, tlsCfg, dial, gate.addrs), nil
}

// dialFunc opens an upstream connection.
type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// newH2Transport speaks h2c, or h2 over TLS with ALPN, through dial.
func newH2Transport(cfg configs.Upstream, tlsCfg *tls.Config, dial dialFunc) http.RoundTripper {
	return newH2Client(cfg.Protocol, tlsCfg, cfg.ConnectTimeout.D(), cfg.IdleTimeout.D(), dial)
}

// newHTTP1Transport is the lean HTTP/1.1 transport, with net/http's
// transport (same dialer, same limits) for the requests it hands over.
func newHTTP1Transport(cfg configs.Upstream, tlsCfg *tls.Config, dial dialFunc, endpoints func() (map[string]bool, bool)) http.RoundTripper {
	std := &http.Transport{
		DialContext:            dial,
		TLSClientConfig:        tlsCfg,
		TLSHandshakeTimeout:    cfg.ConnectTimeout.D(),
		MaxIdleConns:           0,
		MaxIdleConnsPerHost:    cfg.IdleConns,
		IdleConnTimeout:        cfg.IdleTimeout.D(),
		ExpectContinueTimeout:  time.Second,
		DisableCompression:     true, // pass encodings through untouched
		ForceAttemptHTTP2:      false,
		TLSNextProto:           map[string]func(string, *tls.Conn) http.RoundTripper{},
		MaxResponseHeaderBytes: 1 << 20,
	}
	var h1TLS *tls.Config
	if cfg.TLS != nil {
		h1TLS = tlsCfg
	}
	return newH1Transport(h1Options{
		dial:        dial,
		tls:         h1TLS,
		handshake:   cfg.ConnectTimeout.D(),
		maxIdle:     cfg.IdleConns,
		idleTimeout: cfg.IdleTimeout.D(),
		fallback:    std,
		endpoints:   endpoints,
	})
}

// UpstreamTLS is the client TLS config for an upstream's tls block (nil:
// TLS 1.2 and up with the system roots), for other clients of the same
// endpoints (gRPC reflection).
func UpstreamTLS(c *configs.UpstreamTLS) (*tls.Config, error) { return upstreamTLS(c) }

func upstreamTLS(c *configs.UpstreamTLS) (*tls.Config, error) {
	if c == nil {
		return &tls.Config{MinVersion: tls.VersionTLS12}, nil
	}
	return MTLS(c).Config()
}

// MTLS maps an upstream's tls block onto package mtls's client settings
// (verification, SNI, a client certificate reloaded when it changes).
func MTLS(c *configs.UpstreamTLS) mtls.UpstreamTLS {
	u := mtls.UpstreamTLS{ServerName: c.ServerName, CertFile: c.CertFile, KeyFile: c.KeyFile, InsecureSkipVerify: c.InsecureSkipVerify}
	if c.CAFile != "" {
		u.CAFiles = []string{c.CAFile}
	}
	return u
}
