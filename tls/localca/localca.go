// Package localca is Bouncer's own certificate authority for development:
// a root made once and kept in a folder, and leaf certificates for a
// listener's names issued from it in memory, again before they expire.
// Clients trust the root file (root.crt) once, as with mkcert or Caddy's
// local CA; no ACME CA or public name is needed.
package localca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// rootLifetime is how long a new root is valid.
const rootLifetime = 10 * 365 * 24 * time.Hour

// CA is a root certificate and its key.
type CA struct {
	Cert *x509.Certificate
	key  crypto.Signer
	dir  string
}

// Open loads the root kept in dir (root.crt and root.key), or makes one
// and writes it there (the key readable by the owner only) when there is
// none. A root that has expired, or a pair that does not load, is an
// error: it is never replaced silently, since clients trust it.
func Open(dir string) (*CA, error) {
	certFile, keyFile := filepath.Join(dir, "root.crt"), filepath.Join(dir, "root.key")
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	switch {
	case err == nil:
		if time.Now().After(pair.Leaf.NotAfter) {
			return nil, fmt.Errorf("localca: root %s expired on %s; remove root.crt and root.key to make a new one", certFile, pair.Leaf.NotAfter.Format(time.DateOnly))
		}
		signer, ok := pair.PrivateKey.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("localca: %s: key cannot sign", keyFile)
		}
		return &CA{Cert: pair.Leaf, key: signer, dir: dir}, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("localca: %w", err)
	}
	return create(dir, certFile, keyFile)
}

func create(dir, certFile, keyFile string) (*CA, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("localca: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("localca: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "Bouncer Local CA " + now.UTC().Format("2006-01-02 15:04:05"), Organization: []string{"Bouncer development CA"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(rootLifetime),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("localca: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("localca: %w", err)
	}
	// The key first: a root.crt without its key would be loaded as broken.
	if err := writeFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, err
	}
	if err := writeFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("localca: %w", err)
	}
	return &CA{Cert: cert, key: key, dir: dir}, nil
}

// writeFile writes through a new temporary file and a rename, so a reader
// never sees half a file. The temporary file is made afresh (0600, never
// an existing file or link left by a crash or by someone else, whose mode
// os.WriteFile would keep) and given mode before it gets the data.
func writeFile(path string, b []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("localca: %w", err)
	}
	tmp := f.Name()
	err = f.Chmod(mode)
	if err == nil {
		_, err = f.Write(b)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("localca: %w", err)
	}
	return nil
}

// RootFile is the path of the root certificate clients should trust.
func (ca *CA) RootFile() string { return filepath.Join(ca.dir, "root.crt") }

func randomSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		// crypto/rand does not fail on supported platforms.
		panic(fmt.Sprintf("localca: random serial: %v", err))
	}
	return n.Add(n, big.NewInt(1))
}

// Issuer serves one certificate for a fixed list of names, issuing it
// again once two thirds of its lifetime have passed.
type Issuer struct {
	ca       *CA
	names    []string // DNS names, lower case
	ips      []net.IP
	lifetime time.Duration
	now      func() time.Time

	mu    sync.Mutex
	cert  *tls.Certificate
	renew time.Time // when cert is issued again
}

// NewIssuer issues the first certificate for names (DNS names or IPs)
// now, so a broken CA shows at load time rather than at a handshake.
func (ca *CA) NewIssuer(names []string, lifetime time.Duration) (*Issuer, error) {
	is := &Issuer{ca: ca, lifetime: lifetime, now: time.Now}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			is.ips = append(is.ips, ip)
		} else {
			is.names = append(is.names, strings.ToLower(n))
		}
	}
	if _, err := is.current(); err != nil {
		return nil, err
	}
	return is, nil
}

// Covers reports whether name (an SNI value) is one of the issuer's DNS
// names, or "" (a client that sent no SNI, as clients of an IP do), or
// one of its IP addresses (which some clients send as SNI, though RFC
// 6066 section 3 forbids it).
func (is *Issuer) Covers(name string) bool {
	if name == "" {
		return len(is.ips) > 0
	}
	if ip := net.ParseIP(name); ip != nil {
		return slices.ContainsFunc(is.ips, ip.Equal)
	}
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	for _, n := range is.names {
		if n == name || strings.HasPrefix(n, "*.") && strings.Count(name, ".") == strings.Count(n, ".") && strings.HasSuffix(name, n[1:]) {
			return true
		}
	}
	return false
}

// GetCertificate is for tls.Config.GetCertificate: the current
// certificate, whatever the name (call Covers first to choose).
func (is *Issuer) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return is.current()
}

func (is *Issuer) current() (*tls.Certificate, error) {
	is.mu.Lock()
	defer is.mu.Unlock()
	now := is.now()
	if is.cert != nil && now.Before(is.renew) {
		return is.cert, nil
	}
	c, err := is.issue(now)
	if err != nil {
		if is.cert != nil && now.Before(is.cert.Leaf.NotAfter) {
			return is.cert, nil // still valid: try again at the next handshake
		}
		return nil, err
	}
	is.cert, is.renew = c, now.Add(is.lifetime*2/3)
	return c, nil
}

func (is *Issuer) issue(now time.Time) (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("localca: %w", err)
	}
	cn := "localhost"
	if len(is.names) > 0 {
		cn = is.names[0]
	}
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    now.Add(-5 * time.Minute), // some clocks lag
		NotAfter:     now.Add(is.lifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     is.names,
		IPAddresses:  is.ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, is.ca.Cert, key.Public(), is.ca.key)
	if err != nil {
		return nil, fmt.Errorf("localca: issue for %v: %w", append(is.names, ipStrings(is.ips)...), err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("localca: %w", err)
	}
	return &tls.Certificate{Certificate: [][]byte{der, is.ca.Cert.Raw}, PrivateKey: key, Leaf: leaf}, nil
}

func ipStrings(ips []net.IP) []string {
	out := make([]string, len(ips))
	for i, ip := range ips {
		out[i] = ip.String()
	}
	return out
}
