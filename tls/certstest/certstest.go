// Package certstest makes certificates for tests: a throwaway CA and
// leaf certificates it signs, written as PEM files the way a deployment
// would have them.
package certstest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// CA signs the leaf certificates of a test.
type CA struct {
	Cert *x509.Certificate
	Pool *x509.CertPool // holds Cert, for a client's RootCAs
	key  crypto.Signer
}

var serial atomic.Int64

// NewCA makes a CA valid for an hour around now.
func NewCA(t testing.TB) *CA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial.Add(1)), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &CA{Cert: cert, Pool: pool, key: key}
}

// Files are the PEM files of one certificate.
type Files struct {
	CertFile string
	KeyFile  string
}

// Leaf writes dir/name.crt and dir/name.key: a server certificate for the
// DNS names, with an "rsa" or "ecdsa" key and commonName cn (which tests
// use to tell certificates apart). Existing files are replaced through a
// rename, as deploy tools do, so a reader never sees half a file.
func (ca *CA) Leaf(t testing.TB, dir, name, keyType, cn string, dnsNames ...string) Files {
	t.Helper()
	der, key := ca.issue(t, keyType, cn, dnsNames)
	return writePair(t, dir, name, der, key)
}

// ClientLeaf writes dir/name.crt and dir/name.key: an ECDSA client
// certificate (for mTLS) with commonName cn and the given SANs.
func (ca *CA) ClientLeaf(t testing.TB, dir, name, cn string, sans ...string) Files {
	t.Helper()
	der, key := ca.sign(t, "ecdsa", cn, sans, x509.ExtKeyUsageClientAuth)
	return writePair(t, dir, name, der, key)
}

func writePair(t testing.TB, dir, name string, der []byte, key crypto.Signer) Files {
	t.Helper()
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	f := Files{CertFile: filepath.Join(dir, name+".crt"), KeyFile: filepath.Join(dir, name+".key")}
	WriteFile(t, f.CertFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	WriteFile(t, f.KeyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
	return f
}

// TLSCert is an ECDSA server certificate for hosts (DNS names or IP
// addresses), in memory, for a tls.Config of a test server.
func (ca *CA) TLSCert(t testing.TB, hosts ...string) tls.Certificate {
	t.Helper()
	der, key := ca.issue(t, "ecdsa", "test server", hosts)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// ClientCert is an ECDSA client certificate (for mTLS) with commonName cn
// and the given SANs: spiffe:// and other URIs, DNS names or IPs.
func (ca *CA) ClientCert(t testing.TB, cn string, sans ...string) tls.Certificate {
	t.Helper()
	der, key := ca.sign(t, "ecdsa", cn, sans, x509.ExtKeyUsageClientAuth)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// CAFile writes the CA certificate to dir/ca.crt, for configs that name a
// CA bundle, and returns the path.
func (ca *CA) CAFile(t testing.TB, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "ca.crt")
	WriteFile(t, p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw}))
	return p
}

// issue signs a server certificate for hosts with a new key.
func (ca *CA) issue(t testing.TB, keyType, cn string, hosts []string) ([]byte, crypto.Signer) {
	t.Helper()
	return ca.sign(t, keyType, cn, hosts, x509.ExtKeyUsageServerAuth)
}

// sign makes a certificate for sans (URIs with a scheme, IPs, or DNS
// names) with a new key of keyType.
func (ca *CA) sign(t testing.TB, keyType, cn string, sans []string, usage x509.ExtKeyUsage) ([]byte, crypto.Signer) {
	t.Helper()
	var key crypto.Signer
	var err error
	if keyType == "rsa" {
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	} else {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial.Add(1)), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{usage},
	}
	for _, h := range sans {
		if u, err := url.Parse(h); err == nil && u.Scheme != "" && strings.Contains(h, "://") {
			tmpl.URIs = append(tmpl.URIs, u)
		} else if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return der, key
}

// WriteFile replaces path with b through a rename.
func WriteFile(t testing.TB, path string, b []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}
