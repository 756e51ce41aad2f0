package l7

import (
	"context"
	"crypto/tls"
	"sync"

	"github.com/bouncer-proxy/bouncer/tls/mtls"
)

// connCert keeps a TLS connection's client identity, read from its
// certificate at the first request that needs it, and the value of the
// client-cert header last made from it. A connection's certificate cannot
// change (Go's TLS server neither renegotiates nor takes post-handshake
// authentication), so every later request reuses both: reading the
// identity costs a SHA-256 of the certificate and some 40 allocations.
type connCert struct {
	once sync.Once
	id   *mtls.Identity
	ok   bool

	mu      sync.Mutex // guards the header value: h2 and h3 requests run at once
	xfccFor *ListenerPolicy
	xfcc    string
}

type connCertKey struct{}

// withConnCert gives a connection's context (the servers' ConnContext)
// a place for its client identity.
func withConnCert(ctx context.Context) context.Context {
	return context.WithValue(ctx, connCertKey{}, &connCert{})
}

// identity is the connection's verified client identity, read once.
func (c *connCert) identity(st *tls.ConnectionState) (*mtls.Identity, bool) {
	c.once.Do(func() { c.id, c.ok = mtls.FromState(st) })
	return c.id, c.ok
}

// header is the client-cert header value for p's fields, made again only
// when a reload changed the listener's policy.
func (c *connCert) header(p *ListenerPolicy) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.xfccFor != p {
		c.xfcc, c.xfccFor = c.id.XFCC(p.ClientCertFields), p
	}
	return c.xfcc
}
