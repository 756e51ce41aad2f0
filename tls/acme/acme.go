// Package acme obtains and renews TLS certificates automatically from an
// ACME certificate authority (Let's Encrypt, ZeroSSL, a private CA),
// through certmagic.
//
// One Manager lives for the whole process: it survives configuration
// reloads (Update swaps in new settings) and its certificate cache and
// renewal loop keep running across them. Bouncer's own listeners answer
// the CA's challenges: the HTTP listener on HTTPPort calls
// ServeHTTPChallenge first, and the TLS listener on TLSPort uses
// GetCertificate and offers the "acme-tls/1" protocol in NextProtos.
package acme

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// ALPNProtocol is the protocol a TLS listener must list in NextProtos for
// TLS-ALPN-01 challenges (RFC 8737) to reach GetCertificate.
const ALPNProtocol = "acme-tls/1"

// Options configure a Manager. The zero value asks Let's Encrypt for
// nothing; set Names, OnDemand, or both.
type Options struct {
	CA          string // ACME directory URL; empty: Let's Encrypt production
	Email       string // account contact (optional)
	CARootsFile string // PEM roots trusted for the CA's API, added to the system's
	EAB         *EAB   // external account binding, if the CA requires one

	Storage    certmagic.Storage // where accounts and certificates live; nil: FileStorage at StorageDir
	StorageDir string            // empty (and no Storage): certmagic's default data folder

	DisableHTTP01, DisableTLSALPN01 bool
	// HTTPPort and TLSPort are the local ports of the listeners that
	// answer HTTP-01 and TLS-ALPN-01 (0: 80 and 443). A public CA always
	// connects to 80 and 443, so they differ only behind port forwarding
	// or with a test CA. Bouncer's listeners own them; if none listens
	// yet when validation starts, certmagic briefly binds the port itself.
	HTTPPort, TLSPort int

	// DNSProvider enables DNS-01 (the only way to get wildcard names);
	// when set, HTTP-01 and TLS-ALPN-01 are not used.
	DNSProvider certmagic.DNSProvider
	// Resolvers (host:port) check that DNS-01 records have propagated;
	// empty: the zone's authoritative servers.
	Resolvers []string

	Names    []string  // obtained at Start and renewed in the background
	OnDemand *OnDemand // nil: no on-demand issuance

	RenewalWindowRatio float64 // share of lifetime left when renewal starts; 0: certmagic's 1/3
	// RenewCheckInterval is how often certificates are checked for
	// renewal (0: certmagic's 10 min). Read by New only.
	RenewCheckInterval time.Duration

	Logger     *slog.Logger          // nil: slog.Default()
	Registerer prometheus.Registerer // nil: metrics are not registered. Read by New only.
}

// EAB is an external account binding: a key ID and its base64url MAC key,
// issued by CAs that tie ACME accounts to customer accounts.
type EAB struct {
	KeyID  string
	MACKey string
}

// Manager obtains, renews and serves ACME certificates. Its methods are
// safe for concurrent use; GetCertificate and ServeHTTPChallenge never
// block on the CA except for a first on-demand handshake.
type Manager struct {
	cache   *certmagic.Cache
	cur     atomic.Pointer[generation]
	metrics *metrics
	log     *slog.Logger
	zlog    *zap.Logger

	ctx    context.Context // ends at Close: stops certmagic's retries
	cancel context.CancelFunc

	mu      sync.Mutex // serialises Start, Update and Close
	started bool
	closed  bool
}

// New validates o and builds a Manager; nothing is requested from the CA
// until Start. ctx is not retained.
func New(ctx context.Context, o Options) (*Manager, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.Default()
	}
	met, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, err
	}
	m := &Manager{metrics: met, log: logger, zlog: zapToSlog(logger.Handler())}
	m.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert:   m.configForCert,
		RenewCheckInterval: o.RenewCheckInterval,
		Logger:             m.zlog,
	})
	g, err := m.build(o)
	if err != nil {
		m.cache.Stop()
		return nil, err
	}
	m.cur.Store(g)
	m.ctx, m.cancel = context.WithCancel(context.Background())
	return m, nil
}

// Start begins obtaining (or loading from storage) the certificates for
// Names in the background and returns at once: startup never waits for
// the CA. Call it after the listeners on HTTPPort and TLSPort are bound.
func (m *Manager) Start(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errors.New("acme: manager is closed")
	}
	m.started = true
	return m.manage(ctx, m.cur.Load().names)
}

// Update replaces the options, keeping the certificate cache: names
// still listed keep their certificates, new names are obtained in the
// background (once started), and dropped names stop being renewed.
// On-demand refusals and the rate window start afresh. Logger,
// Registerer and RenewCheckInterval keep their New values. On error the
// previous options stay in force. It is Prepare then Commit.
func (m *Manager) Update(ctx context.Context, o Options) error {
	p, err := m.Prepare(o)
	if err != nil {
		return err
	}
	return p.Commit(ctx)
}

// Prepared is an update checked and built but not in force: Commit puts it
// in force, and a Prepared that is dropped changes nothing. A caller
// whose own change may still fail (a reload binding its listeners)
// prepares first and commits once nothing else can fail.
type Prepared struct {
	m *Manager
	g *generation
}

// Prepare checks o and builds what Update would switch to, without
// switching and without asking the CA for anything.
func (m *Manager) Prepare(o Options) (*Prepared, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, errors.New("acme: manager is closed")
	}
	g, err := m.build(o)
	if err != nil {
		return nil, err
	}
	return &Prepared{m: m, g: g}, nil
}

// Commit puts the prepared options in force (see Update).
func (p *Prepared) Commit(ctx context.Context) error {
	m := p.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errors.New("acme: manager is closed")
	}
	g := p.g
	old := m.cur.Swap(g)
	var gone []certmagic.SubjectIssuer
	for _, n := range old.names {
		if !g.lists(n) {
			gone = append(gone, certmagic.SubjectIssuer{Subject: n})
			m.metrics.forget(n)
		}
	}
	m.cache.RemoveManaged(gone)
	if !m.started {
		return nil
	}
	return m.manage(ctx, g.names)
}

// manage hands names to certmagic, which obtains them asynchronously
// under the Manager's own context (ctx only guards the call).
func (m *Manager) manage(ctx context.Context, names []string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(names) == 0 {
		return nil
	}
	if err := m.cur.Load().managedCfg.ManageAsync(m.ctx, names); err != nil {
		return fmt.Errorf("acme: manage %v: %w", names, err)
	}
	return nil
}

// GetCertificate serves a handshake: a managed certificate, one issued
// on demand (the first handshake for a new name waits for the CA), or a
// TLS-ALPN-01 challenge certificate. Use it as tls.Config.GetCertificate.
func (m *Manager) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	g := m.cur.Load()
	cfg := g.managedCfg
	if g.onDemandCfg != nil && !g.managed.match(hello.ServerName) {
		cfg = g.onDemandCfg
	}
	return cfg.GetCertificate(hello)
}

// ServeHTTPChallenge answers an HTTP-01 challenge request
// (/.well-known/acme-challenge/<token>) for a token this Manager, or one
// sharing its storage, is presenting. It reports whether it wrote the
// response; if not, the caller handles the request as usual.
func (m *Manager) ServeHTTPChallenge(w http.ResponseWriter, r *http.Request) bool {
	return m.cur.Load().issuer.HandleHTTPChallenge(w, r)
}

// Covers reports whether name is served by this Manager: one of Names
// (or under a wildcard among them), or a name on-demand issuance may
// accept (matching Allow, or any name when only Ask decides).
func (m *Manager) Covers(name string) bool {
	g := m.cur.Load()
	name = normalize(name)
	return g.managed.match(name) || (g.gate != nil && g.gate.covers(name))
}

// Close stops renewals and background obtaining. Certificates already
// in storage stay there for the next start.
func (m *Manager) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	m.closed = true
	m.cancel()
	m.cache.Stop()
}

// configForCert is the cache's GetConfigForCert: on-demand certificates
// are maintained by the on-demand config (renewed at handshakes), the
// others by the managed one (renewed by the cache's timer).
func (m *Manager) configForCert(c certmagic.Certificate) (*certmagic.Config, error) {
	g := m.cur.Load()
	if g == nil {
		return nil, errors.New("acme: manager not built yet")
	}
	if g.onDemandCfg == nil {
		return g.managedCfg, nil
	}
	for _, n := range c.Names {
		if g.lists(n) {
			return g.managedCfg, nil
		}
	}
	return g.onDemandCfg, nil
}
