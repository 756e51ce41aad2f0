// Package mtls holds the mutual-TLS pieces of Bouncer: the client
// certificate policy of a listener, the identity read from a verified
// client certificate, the x-forwarded-client-cert header that carries it
// upstream, and the client side TLS config used towards upstreams.
package mtls

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
)

// Client certificate modes of ClientAuth.
const (
	ModeRequire  = "require"  // the handshake fails without a valid client certificate
	ModeOptional = "optional" // one is asked for and verified when given
	ModeNone     = "none"     // none is asked for
)

// ClientAuth is a listener's client certificate policy.
type ClientAuth struct {
	Mode    string   // ModeRequire, ModeOptional or ModeNone
	CAFiles []string // PEM bundles of the CAs client certificates must chain to
}

// Apply sets cfg.ClientAuth and cfg.ClientCAs for c. It reads the CA files
// once, at config load; an error names the file and what is wrong with it,
// and leaves cfg untouched. ModeRequire and ModeOptional need at least one
// CA file, ModeNone takes none. Apply is called before cfg is used by any
// listener and does not retain cfg.
//
// A listener whose own mode is optional but that serves routes needing a
// client certificate uses ModeOptional: the handshake asks for one, and the
// route checks Verified.
func (c ClientAuth) Apply(cfg *tls.Config) error {
	var auth tls.ClientAuthType
	switch c.Mode {
	case ModeRequire:
		auth = tls.RequireAndVerifyClientCert
	case ModeOptional:
		auth = tls.VerifyClientCertIfGiven
	case ModeNone:
		if len(c.CAFiles) > 0 {
			return errors.New("mtls: client_auth mode none takes no ca_files")
		}
		cfg.ClientAuth, cfg.ClientCAs = tls.NoClientCert, nil
		return nil
	default:
		return fmt.Errorf("mtls: client_auth mode %q: want require, optional or none", c.Mode)
	}
	if len(c.CAFiles) == 0 {
		return fmt.Errorf("mtls: client_auth mode %s needs ca_files", c.Mode)
	}
	pool, err := LoadPool(c.CAFiles)
	if err != nil {
		return err
	}
	cfg.ClientAuth, cfg.ClientCAs = auth, pool
	return nil
}

// Verified reports whether the peer of a connection presented a
// certificate that chained to a trusted CA. With ModeOptional a handshake
// may succeed without one; this is how a route tells the two apart. A nil
// state (plain TCP) is not verified.
func Verified(st *tls.ConnectionState) bool {
	return st != nil && len(st.VerifiedChains) > 0 && len(st.VerifiedChains[0]) > 0
}

// LoadPool reads PEM CA bundles into a pool. Every file must hold at
// least one certificate and nothing but certificates (a private key in a
// CA bundle is a mistake worth stopping for).
func LoadPool(files []string) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	for _, name := range files {
		certs, err := readCerts(name)
		if err != nil {
			return nil, err
		}
		for _, c := range certs {
			pool.AddCert(c)
		}
	}
	return pool, nil
}

// readCerts parses every PEM block of one CA bundle.
func readCerts(name string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("mtls: ca file: %w", err)
	}
	var certs []*x509.Certificate
	rest := data
	for n := 1; ; n++ {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("mtls: ca file %s: PEM block %d is a %s, not a CERTIFICATE", name, n, block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("mtls: ca file %s: certificate %d: %w", name, n, err)
		}
		certs = append(certs, c)
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		if len(certs) == 0 {
			return nil, fmt.Errorf("mtls: ca file %s: bad PEM: no PEM block found", name)
		}
		return nil, fmt.Errorf("mtls: ca file %s: bad PEM after certificate %d", name, len(certs))
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("mtls: ca file %s: no certificates in it", name)
	}
	return certs, nil
}
