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
type Transports struct {
	mu sync.Mutex
	m  map[string]*transportEntry
}

type transportEntry struct {
	key  string // settings fingerprint
	gate *gateRef
	rt   http.RoundTripper
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

// NewTransports makes an empty set.
func NewTransports() *Transports { return &Transports{m: map[string]*transportEntry{}} }

// Get returns the transport for upstream name with cfg, reusing the
// current one when its settings are unchanged. The scheme to put in
// request URLs is returned too ("http" or "https").
func (t *Transports) Get(name string, cfg configs.Upstream, gate ConnGate) (http.RoundTripper, string, error) {
	key := fingerprint(cfg)
	scheme := "http"
	if cfg.TLS != nil || cfg.Protocol == "h3" {
		scheme = "https"
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if e, ok := t.m[name]; ok && e.key == key {
		e.gate.mu.Lock()
		e.gate.gate = gate
		e.gate.mu.Unlock()
		return e.rt, scheme, nil
	}
	ref := &gateRef{gate: gate}
	rt, err := newTransport(cfg, ref)
	if err != nil {
		return nil, "", err
	}
	if old, ok := t.m[name]; ok {
		closeIdle(old.rt)
	}
	t.m[name] = &transportEntry{key: key, gate: ref, rt: rt}
	return rt, scheme, nil
}

// Retain drops transports of upstreams that are gone.
func (t *Transports) Retain(names map[string]bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for name, e := range t.m {
		if !names[name] {
			closeIdle(e.rt)
			delete(t.m, name)
		}
	}
}

// CloseIdle closes idle connections of every transport.
func (t *Transports) CloseIdle() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, e := range t.m {
		closeIdle(e.rt)
	}
}

func closeIdle(rt http.RoundTripper) {
	if c, ok := rt.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
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
	return newHTTP1Transport(cfg, tlsCfg, dial), nil
}

// dialFunc opens an upstream connection.
type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// newH2Transport speaks h2c, or h2 over TLS with ALPN, through dial.
func newH2Transport(cfg configs.Upstream, tlsCfg *tls.Config, dial dialFunc) http.RoundTripper {
	return newH2Client(cfg.Protocol, tlsCfg, cfg.ConnectTimeout.D(), cfg.IdleTimeout.D(), dial)
}

// newHTTP1Transport is the lean HTTP/1.1 transport, with net/http's
// transport (same dialer, same limits) for the requests it hands over.
func newHTTP1Transport(cfg configs.Upstream, tlsCfg *tls.Config, dial dialFunc) http.RoundTripper {
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
