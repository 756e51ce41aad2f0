package mtls

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/url"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bouncer-proxy/bouncer/tls/certstest"
)

// certstest signs only server certificates with DNS and IP names; client
// certificates need the clientAuth key usage, URI and email SANs, so these
// tests keep their own small CA.

var testSerial atomic.Int64

// clientCA signs client certificates.
type clientCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	file string // PEM of cert
}

// leafSpec is what a client certificate says.
type leafSpec struct {
	cn     string
	org    string
	dns    []string
	uris   []string
	emails []string
	ips    []string
}

// newClientCA makes a CA and writes its certificate to dir/name.pem.
func newClientCA(t *testing.T, dir, name string) *clientCA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(testSerial.Add(1)), Subject: pkix.Name{CommonName: name + " CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	cert := sign(t, tmpl, tmpl, key, key)
	ca := &clientCA{cert: cert, key: key, file: filepath.Join(dir, name+".pem")}
	certstest.WriteFile(t, ca.file, pemCert(cert.Raw))
	return ca
}

// issue signs a client certificate for spec.
func (ca *clientCA) issue(t *testing.T, spec leafSpec) tls.Certificate {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(testSerial.Add(1) + 0x1000),
		Subject:      pkix.Name{CommonName: spec.cn},
		NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour).Truncate(time.Second),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		DNSNames:    spec.dns, EmailAddresses: spec.emails,
	}
	if spec.org != "" {
		tmpl.Subject.Organization = []string{spec.org}
	}
	for _, s := range spec.uris {
		u, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.URIs = append(tmpl.URIs, u)
	}
	for _, s := range spec.ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(s))
	}
	cert := sign(t, tmpl, ca.cert, key, ca.key)
	return tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
}

// writePair writes a certificate and its key to dir/name.crt and .key.
func writePair(t *testing.T, dir, name string, c tls.Certificate) (certFile, keyFile string) {
	t.Helper()
	kder, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	certstest.WriteFile(t, certFile, pemCert(c.Certificate[0]))
	certstest.WriteFile(t, keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
	return certFile, keyFile
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func sign(t *testing.T, tmpl, parent *x509.Certificate, key, parentKey *ecdsa.PrivateKey) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// handshake is what a test server saw of one connection.
type handshake struct {
	state *tls.ConnectionState
	err   error
}

// serve listens on 127.0.0.1:0 with cfg and reports the server side of
// each handshake, in order, until the test ends.
func serve(t *testing.T, cfg *tls.Config) (addr string, result <-chan handshake) {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ch := make(chan handshake, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			ch <- serverHandshake(c.(*tls.Conn))
		}
	}()
	return ln.Addr().String(), ch
}

// serverHandshake completes one handshake and closes the connection.
func serverHandshake(c *tls.Conn) handshake {
	defer c.Close()
	if err := c.Handshake(); err != nil {
		return handshake{err: err}
	}
	st := c.ConnectionState()
	// Let the client see the handshake finish before the close.
	c.Write([]byte("ok"))
	return handshake{state: &st}
}
