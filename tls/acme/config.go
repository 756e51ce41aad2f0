package acme

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/caddyserver/certmagic"
	acmeproto "github.com/mholt/acmez/v3/acme"
)

// generation is one immutable set of options turned into certmagic
// configs. Update builds a new one and swaps it in whole.
type generation struct {
	names       []string // normalized Names
	managed     nameSet  // the same, for matching SNI against wildcards
	storage     certmagic.Storage
	managedCfg  *certmagic.Config     // Names: renewed by the cache's timer
	issuer      *certmagic.ACMEIssuer // managedCfg's; answers HTTP-01
	onDemandCfg *certmagic.Config     // nil without OnDemand
	gate        *gate                 // nil without OnDemand
}

// lists reports whether name (normalized) is one of Names exactly.
func (g *generation) lists(name string) bool {
	if rest, ok := strings.CutPrefix(name, "*."); ok {
		_, ok = g.managed.wildcards[rest]
		return ok
	}
	_, ok := g.managed.exact[name]
	return ok
}

// build validates o and makes its generation on m's cache.
func (m *Manager) build(o Options) (*generation, error) {
	g := &generation{storage: storageOrDefault(o)}
	var err error
	if g.managed, err = newNameSet(o.Names); err != nil {
		return nil, fmt.Errorf("acme: names: %w", err)
	}
	for _, n := range o.Names {
		n = normalize(n)
		if strings.HasPrefix(n, "*.") && o.DNSProvider == nil {
			return nil, fmt.Errorf("acme: wildcard name %q needs DNS-01 (a DNS provider)", n)
		}
		g.names = append(g.names, n)
	}
	if o.DisableHTTP01 && o.DisableTLSALPN01 && o.DNSProvider == nil {
		return nil, errors.New("acme: HTTP-01 and TLS-ALPN-01 are both disabled and no DNS provider is set")
	}
	if o.EAB != nil && (o.EAB.KeyID == "" || o.EAB.MACKey == "") {
		return nil, errors.New("acme: external account binding needs both a key ID and a MAC key")
	}
	roots, err := loadRoots(o.CARootsFile)
	if err != nil {
		return nil, err
	}
	g.managedCfg, g.issuer = m.newConfig(o, g.storage, roots, nil, m.onEvent)
	if o.OnDemand != nil {
		if g.gate, err = newGate(*o.OnDemand); err != nil {
			return nil, err
		}
		od := &certmagic.OnDemandConfig{DecisionFunc: g.gate.decide}
		g.onDemandCfg, _ = m.newConfig(o, g.storage, roots, od, m.onDemandEvent(g.gate))
	}
	return g, nil
}

// newConfig makes one certmagic config with its ACME issuer.
func (m *Manager) newConfig(o Options, storage certmagic.Storage, roots *x509.CertPool,
	od *certmagic.OnDemandConfig, onEvent func(context.Context, string, map[string]any) error,
) (*certmagic.Config, *certmagic.ACMEIssuer) {
	cfg := certmagic.New(m.cache, certmagic.Config{
		RenewalWindowRatio: o.RenewalWindowRatio,
		OnDemand:           od,
		Storage:            storage,
		Logger:             m.zlog,
		OnEvent:            onEvent,
		// every handshake would build this event's data for nothing
		ShouldEmitFunc: func(event string) bool { return event != "tls_get_certificate" },
	})
	tmpl := certmagic.ACMEIssuer{
		CA:    o.CA,
		Email: o.Email,
		// configuring an ACME CA is the operator's agreement to its terms;
		// certmagic would otherwise prompt on stdin
		Agreed:                  true,
		TrustedRoots:            roots,
		DisableHTTPChallenge:    o.DisableHTTP01,
		DisableTLSALPNChallenge: o.DisableTLSALPN01,
		AltHTTPPort:             o.HTTPPort,
		AltTLSALPNPort:          o.TLSPort,
		Logger:                  m.zlog,
	}
	if o.EAB != nil {
		tmpl.ExternalAccount = &acmeproto.EAB{KeyID: o.EAB.KeyID, MACKey: o.EAB.MACKey}
	}
	if o.DNSProvider != nil {
		tmpl.DNS01Solver = &certmagic.DNS01Solver{DNSManager: certmagic.DNSManager{
			DNSProvider: o.DNSProvider, Resolvers: o.Resolvers, Logger: m.zlog,
		}}
	}
	iss := certmagic.NewACMEIssuer(cfg, tmpl)
	cfg.Issuers = []certmagic.Issuer{iss}
	return cfg, iss
}

// onDemandEvent adds the issuance rate limits to onEvent: certmagic emits
// cert_obtaining just before it places a new order, and an error aborts
// it (ErrNoRetry: at once, without certmagic's retries); cert_failed
// starts the name's back-off, so a name whose orders fail is not ordered
// again at each handshake.
func (m *Manager) onDemandEvent(g *gate) func(context.Context, string, map[string]any) error {
	return func(ctx context.Context, event string, data map[string]any) error {
		renewal, _ := data["renewal"].(bool)
		name, _ := data["identifier"].(string)
		switch {
		case renewal:
		case event == "cert_obtaining":
			if err := g.take(name); err != nil {
				m.log.Warn("acme: on-demand certificate refused", "name", name, "error", err)
				return certmagic.ErrNoRetry{Err: err}
			}
		case event == "cert_failed":
			if err, _ := data["error"].(error); !errors.Is(err, context.Canceled) {
				g.orderFailed(name)
			}
		}
		return m.onEvent(ctx, event, data)
	}
}

// loadRoots is the system pool plus the PEM certificates in file, or nil
// (certmagic's default, the system pool) when file is empty.
func loadRoots(file string) (*x509.CertPool, error) {
	if file == "" {
		return nil, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("acme: ca roots: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("acme: ca roots: no PEM certificate in %s", file)
	}
	return pool, nil
}

// storageOrDefault is o's storage: Storage, a FileStorage at StorageDir,
// or certmagic's default folder.
func storageOrDefault(o Options) certmagic.Storage {
	switch {
	case o.Storage != nil:
		return o.Storage
	case o.StorageDir != "":
		return &certmagic.FileStorage{Path: o.StorageDir}
	default:
		return certmagic.Default.Storage
	}
}
