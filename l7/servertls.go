package l7

import (
	"crypto/tls"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/bouncer-proxy/bouncer/configs"
	"github.com/bouncer-proxy/bouncer/tls/certs"
	"github.com/bouncer-proxy/bouncer/tls/localca"
	"github.com/bouncer-proxy/bouncer/tls/mtls"
)

// CertSource is a source of certificates besides a listener's files: the
// ACME manager.
type CertSource interface {
	// GetCertificate answers a handshake the source covers, including
	// ACME TLS-ALPN-01 challenge handshakes.
	GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error)
	// Covers reports whether the source serves name: a managed name, or
	// one on-demand issuance may allow.
	Covers(name string) bool
}

// acmeTLSALPN is the ALPN protocol of ACME TLS-ALPN-01 challenges (RFC 8737).
const acmeTLSALPN = "acme-tls/1"

// serverTLS builds the TLS config of a listener: where certificates come
// from, chosen by SNI; the versions and cipher suites it accepts; and the
// client certificates it asks for.
func serverTLS(cfg configs.Listener, o ServerOptions) (*tls.Config, *certs.Store, error) {
	t := cfg.TLS
	pick := &certPicker{strict: t.StrictSNI}
	if pairs := t.Pairs(); len(pairs) > 0 {
		var ps []certs.Pair
		for _, p := range pairs {
			ps = append(ps, certs.Pair{CertFile: p.CertFile, KeyFile: p.KeyFile})
		}
		store, err := certs.New(ps, t.StrictSNI)
		if err != nil {
			return nil, nil, fmt.Errorf("l7: listener %s: %w", cfg.Name, err)
		}
		pick.static = store
	}
	if t.ACME != nil {
		if o.ACME == nil {
			return nil, nil, fmt.Errorf("l7: listener %s: tls.acme is set but no ACME manager was given", cfg.Name)
		}
		pick.acme = o.ACME
	}
	if t.LocalCA != nil {
		if o.LocalCA == nil {
			return nil, nil, fmt.Errorf("l7: listener %s: tls.local_ca is set but no local CA was given", cfg.Name)
		}
		is, err := o.LocalCA.NewIssuer(t.LocalCA.Names, t.LocalCA.Lifetime.D())
		if err != nil {
			return nil, nil, fmt.Errorf("l7: listener %s: %w", cfg.Name, err)
		}
		pick.local = is
	}
	var protos []string
	if slices.Contains(cfg.Protocols, "h2") {
		protos = append(protos, "h2")
	}
	if slices.Contains(cfg.Protocols, "http1") {
		protos = append(protos, "http/1.1")
	}
	if pick.acme != nil {
		protos = append(protos, acmeTLSALPN)
	}
	minVersion := uint16(tls.VersionTLS12)
	if t.MinVersion == "1.3" {
		minVersion = tls.VersionTLS13
	}
	tc := &tls.Config{
		GetCertificate: pick.GetCertificate,
		NextProtos:     protos,
		MinVersion:     minVersion,
		CipherSuites:   tls12Suites,
	}
	if ca := t.ClientAuth; ca != nil {
		if err := (mtls.ClientAuth{Mode: ca.Mode, CAFiles: ca.CAFiles}).Apply(tc); err != nil {
			return nil, nil, fmt.Errorf("l7: listener %s: %w", cfg.Name, err)
		}
	}
	return tc, pick.static, nil
}

// certPicker chooses among a listener's certificate sources: an ACME
// challenge first, then a static certificate for the exact or wildcard
// name, then ACME, then the local CA, then the static default.
type certPicker struct {
	static *certs.Store    // nil: no files
	acme   CertSource      // nil: no tls.acme
	local  *localca.Issuer // nil: no tls.local_ca
	strict bool
}

var errNoCertificate = errors.New("no certificate for this name")

// GetCertificate is for tls.Config.GetCertificate.
func (p *certPicker) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	name := strings.TrimSuffix(strings.ToLower(hello.ServerName), ".")
	if p.acme != nil && IsACMEChallenge(hello.SupportedProtos) {
		if name == "" {
			return nil, fmt.Errorf("%w: an ACME challenge hello without a server name (SNI)", errNoCertificate)
		}
		return p.acme.GetCertificate(hello)
	}
	if p.static != nil {
		if c := p.static.Match(hello); c != nil {
			return c, nil
		}
	}
	if p.acme != nil && name != "" && p.acme.Covers(name) {
		return p.acme.GetCertificate(hello)
	}
	if p.local != nil && p.local.Covers(name) {
		return p.local.GetCertificate(hello)
	}
	if p.static != nil && (name == "" || !p.strict) {
		return p.static.GetCertificate(hello)
	}
	if p.local != nil && !p.strict {
		return p.local.GetCertificate(hello)
	}
	if name == "" {
		return nil, fmt.Errorf("%w: the client sent no server name (SNI)", errNoCertificate)
	}
	return nil, fmt.Errorf("%w: %q", errNoCertificate, name)
}

// IsACMEChallenge reports whether a ClientHello offering protos is an ACME
// TLS-ALPN-01 validation: the CA offers "acme-tls/1" as its only protocol
// (RFC 8737, section 3). A hello that lists it beside others is an
// ordinary one and gets the certificate its name selects (or, on a port
// with L4 routes, is routed by it); sending it to the ACME manager would
// skip the static and local certificates and strict_sni.
func IsACMEChallenge(protos []string) bool {
	return len(protos) == 1 && protos[0] == acmeTLSALPN
}
