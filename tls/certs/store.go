// Package certs serves the static certificates of a TLS listener: one is
// chosen per handshake by the name the client asks for (SNI), ECDSA and
// RSA certificates for the same names sit side by side, and files that
// change on disk are loaded again without a restart.
package certs

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Pair names a PEM certificate chain and its private key.
type Pair struct {
	CertFile string
	KeyFile  string
}

// Store picks a certificate for each handshake. Its index is immutable
// and swapped whole when files change, so a handshake never sees half a
// reload.
type Store struct {
	pairs  []Pair
	strict bool
	idx    atomic.Pointer[index]

	mu     sync.Mutex // serialises Refresh
	stamps []stamp    // of the files the index was built from
	failed []stamp    // of files that last failed to load: not tried again until they change
}

// index maps names to certificates, each list in order of preference
// (ECDSA and Ed25519 before RSA, then the order of the config).
type index struct {
	exact    map[string][]*tls.Certificate // lower-case DNS name
	wildcard map[string][]*tls.Certificate // "example.com" for *.example.com
	fallback []*tls.Certificate            // the first pair's, for no SNI or unknown names
}

// stamp identifies one version of a file cheaply.
type stamp struct {
	size    int64
	modTime time.Time
}

// New loads pairs (at least one). The first pair is the default, served
// to clients that send no SNI and, unless strict, to names no certificate
// covers; strict refuses those handshakes instead.
func New(pairs []Pair, strict bool) (*Store, error) {
	if len(pairs) == 0 {
		return nil, errors.New("certs: no certificate")
	}
	s := &Store{pairs: slices.Clone(pairs), strict: strict}
	idx, stamps, err := s.load()
	if err != nil {
		return nil, err
	}
	s.idx.Store(idx)
	s.stamps = stamps
	return s, nil
}

// GetCertificate is for tls.Config.GetCertificate.
func (s *Store) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if c := s.Match(hello); c != nil {
		return c, nil
	}
	if hello.ServerName != "" && s.strict {
		return nil, fmt.Errorf("certs: no certificate for %q", hello.ServerName)
	}
	cands := s.idx.Load().fallback
	for _, c := range cands {
		if hello.SupportsCertificate(c) == nil {
			return c, nil
		}
	}
	return cands[0], nil // the handshake fails with a clear alert on the client's side
}

// Match is the certificate for the client's SNI name, exact or wildcard,
// that the client supports; nil when no certificate covers the name (or
// the client sent none), where GetCertificate would use the default.
func (s *Store) Match(hello *tls.ClientHelloInfo) *tls.Certificate {
	cands := s.idx.Load().lookup(strings.TrimSuffix(strings.ToLower(hello.ServerName), "."))
	for _, c := range cands {
		if hello.SupportsCertificate(c) == nil {
			return c
		}
	}
	if len(cands) > 0 {
		return cands[0] // the handshake fails with a clear alert on the client's side
	}
	return nil
}

func (x *index) lookup(name string) []*tls.Certificate {
	if name == "" {
		return nil
	}
	if c, ok := x.exact[name]; ok {
		return c
	}
	if _, parent, ok := strings.Cut(name, "."); ok && parent != "" {
		return x.wildcard[parent]
	}
	return nil
}

// Refresh loads the files again when any of them changed since the last
// load. On an error the certificates in use stay, and the same broken
// files are not tried (or reported) again until they change; changed
// reports a swap.
func (s *Store) Refresh() (changed bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now, err := s.stat()
	if err != nil {
		return false, err
	}
	if slices.Equal(now, s.stamps) || slices.Equal(now, s.failed) {
		return false, nil
	}
	idx, stamps, err := s.load()
	if err != nil {
		s.failed = now // reported once, not at every check
		return false, err
	}
	s.idx.Store(idx)
	s.stamps = stamps
	return true, nil
}

// Watch calls Refresh every interval until stop is closed, reporting each
// outcome that is not "unchanged" to report (which may be nil).
func (s *Store) Watch(interval time.Duration, stop <-chan struct{}, report func(changed bool, err error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			changed, err := s.Refresh()
			if (changed || err != nil) && report != nil {
				report(changed, err)
			}
		}
	}
}

func (s *Store) stat() ([]stamp, error) {
	out := make([]stamp, 0, 2*len(s.pairs))
	for _, p := range s.pairs {
		for _, f := range []string{p.CertFile, p.KeyFile} {
			fi, err := os.Stat(f)
			if err != nil {
				return nil, fmt.Errorf("certs: %w", err)
			}
			out = append(out, stamp{fi.Size(), fi.ModTime()})
		}
	}
	return out, nil
}

// load reads every pair and builds an index. The stamps are taken before
// the reads, so a file written during the load is read again next time.
func (s *Store) load() (*index, []stamp, error) {
	stamps, err := s.stat()
	if err != nil {
		return nil, nil, err
	}
	certs := make([]*tls.Certificate, len(s.pairs))
	for i, p := range s.pairs {
		c, err := tls.LoadX509KeyPair(p.CertFile, p.KeyFile)
		if err != nil {
			return nil, nil, fmt.Errorf("certs: %s: %w", p.CertFile, err)
		}
		if i > 0 && len(c.Leaf.DNSNames) == 0 {
			return nil, nil, fmt.Errorf("certs: %s names no DNS name (subjectAltName), so SNI can never select it; only the first certificate, the default, may", p.CertFile)
		}
		certs[i] = &c
	}
	idx := &index{exact: map[string][]*tls.Certificate{}, wildcard: map[string][]*tls.Certificate{}}
	for _, c := range certs {
		for _, n := range c.Leaf.DNSNames {
			n = strings.TrimSuffix(strings.ToLower(n), ".")
			if parent, ok := strings.CutPrefix(n, "*."); ok {
				idx.wildcard[parent] = append(idx.wildcard[parent], c)
			} else {
				idx.exact[n] = append(idx.exact[n], c)
			}
		}
	}
	// The default is the first pair, with its ECDSA or RSA twins: later
	// pairs for exactly the same names.
	for _, c := range certs {
		if c == certs[0] || slices.Equal(c.Leaf.DNSNames, certs[0].Leaf.DNSNames) && len(c.Leaf.DNSNames) > 0 {
			idx.fallback = append(idx.fallback, c)
		}
	}
	for _, m := range []map[string][]*tls.Certificate{idx.exact, idx.wildcard} {
		for _, l := range m {
			slices.SortStableFunc(l, func(a, b *tls.Certificate) int { return rank(a) - rank(b) })
		}
	}
	slices.SortStableFunc(idx.fallback, func(a, b *tls.Certificate) int { return rank(a) - rank(b) })
	return idx, stamps, nil
}

// rank orders key types: smaller and faster signatures first.
func rank(c *tls.Certificate) int {
	switch c.PrivateKey.(type) {
	case *ecdsa.PrivateKey, ed25519.PrivateKey:
		return 0
	}
	return 1
}
