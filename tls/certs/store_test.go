package certs

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bouncer-proxy/bouncer/internal/testsvc"
	"github.com/bouncer-proxy/bouncer/tls/certstest"
)

// testCA adapts certstest's CA to these tests' Pair.
type testCA struct{ *certstest.CA }

func newCA(t *testing.T) *testCA { return &testCA{certstest.NewCA(t)} }

func (ca *testCA) leaf(t *testing.T, dir, file, keyType, cn string, names ...string) Pair {
	t.Helper()
	f := ca.Leaf(t, dir, file, keyType, cn, names...)
	return Pair{CertFile: f.CertFile, KeyFile: f.KeyFile}
}

func writeFile(t *testing.T, path string, b []byte) { certstest.WriteFile(t, path, b) }

// serve runs a TLS server on loopback with s's certificates; each
// connection completes its handshake and closes.
func serve(t *testing.T, s *Store) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{GetCertificate: s.GetCertificate})
	if err != nil {
		t.Fatal(err)
	}
	return testsvc.Serve(t, ln, func(c net.Conn) { _ = c.(*tls.Conn).Handshake() })
}

// handshake connects with sni (verifying against ca for sni, or for
// verifyAs when sni is empty) and returns the served certificate.
func handshake(t *testing.T, addr string, ca *testCA, sni string, cfg *tls.Config) (*x509.Certificate, error) {
	t.Helper()
	if cfg == nil {
		cfg = &tls.Config{}
	}
	cfg.RootCAs = ca.Pool
	cfg.ServerName = sni
	if sni == "" {
		cfg.InsecureSkipVerify = true // nothing to verify the name against
	}
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0], nil
}

func TestSNISelection(t *testing.T) {
	ca, dir := newCA(t), t.TempDir()
	s, err := New([]Pair{
		ca.leaf(t, dir, "default", "ecdsa", "default", "default.test"),
		ca.leaf(t, dir, "api", "ecdsa", "api", "api.example.test"),
		ca.leaf(t, dir, "wild", "ecdsa", "wild", "*.example.test"),
		ca.leaf(t, dir, "shop", "ecdsa", "shop", "shop.test", "www.shop.test"),
	}, false)
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, s)
	for _, c := range []struct{ sni, want string }{
		{"api.example.test", "api"},     // exact beats wildcard
		{"API.Example.Test", "api"},     // names are case-insensitive
		{"web.example.test", "wild"},    // wildcard
		{"www.shop.test", "shop"},       // any SAN
		{"example.test", "default"},     // a wildcard does not cover its parent
		{"a.b.example.test", "default"}, // nor two labels
		{"unknown.test", "default"},     // unknown name: the default
		{"", "default"},                 // no SNI (a client dialing an IP): the default
		{"default.test", "default"},     // the default by its own name
	} {
		got, err := handshake(t, addr, ca, c.sni, &tls.Config{InsecureSkipVerify: c.want == "default" && c.sni != "default.test"})
		if err != nil {
			t.Errorf("SNI %q: %v", c.sni, err)
			continue
		}
		if got.Subject.CommonName != c.want {
			t.Errorf("SNI %q got certificate %q, want %q", c.sni, got.Subject.CommonName, c.want)
		}
	}
}

func TestStrictSNI(t *testing.T) {
	ca, dir := newCA(t), t.TempDir()
	s, err := New([]Pair{ca.leaf(t, dir, "a", "ecdsa", "a", "a.test")}, true)
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, s)
	if _, err := handshake(t, addr, ca, "other.test", &tls.Config{InsecureSkipVerify: true}); err == nil {
		t.Error("strict: a name no certificate covers completed the handshake")
	}
	if got, err := handshake(t, addr, ca, "", nil); err != nil || got.Subject.CommonName != "a" {
		t.Errorf("strict, no SNI: %v, %v; want the default", got, err)
	}
	if got, err := handshake(t, addr, ca, "a.test", nil); err != nil || got.Subject.CommonName != "a" {
		t.Errorf("strict, known name: %v, %v", got, err)
	}
}

// ECDSA and RSA certificates for the same names: a client that can use
// ECDSA gets it, one that cannot gets RSA.
func TestECDSAAndRSASideBySide(t *testing.T) {
	ca, dir := newCA(t), t.TempDir()
	s, err := New([]Pair{
		ca.leaf(t, dir, "rsa", "rsa", "rsa", "api.test"), // listed first: preference is by key type, not order
		ca.leaf(t, dir, "ec", "ecdsa", "ecdsa", "api.test"),
	}, false)
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, s)
	rsaOnly := &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}}
	for _, c := range []struct {
		name, sni string
		cfg       *tls.Config
		want      string
	}{
		{"modern client", "api.test", nil, "ecdsa"},
		{"RSA-only client", "api.test", rsaOnly, "rsa"},
		{"modern client, no SNI (the default and its twin)", "", nil, "ecdsa"},
		{"RSA-only client, no SNI", "", rsaOnly, "rsa"},
	} {
		got, err := handshake(t, addr, ca, c.sni, c.cfg)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got.Subject.CommonName != c.want {
			t.Errorf("%s: got %s, want %s", c.name, got.Subject.CommonName, c.want)
		}
	}
}

// Files replaced on disk are served after Refresh; a broken replacement
// keeps the certificate in use.
func TestRefresh(t *testing.T) {
	ca, dir := newCA(t), t.TempDir()
	p := ca.leaf(t, dir, "site", "ecdsa", "v1", "site.test")
	s, err := New([]Pair{p}, false)
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, s)
	if changed, err := s.Refresh(); changed || err != nil {
		t.Fatalf("Refresh with nothing changed: %v, %v", changed, err)
	}
	ca.leaf(t, dir, "site", "ecdsa", "v2", "site.test") // same files, new certificate
	changed, err := s.Refresh()
	if !changed || err != nil {
		t.Fatalf("Refresh after a change: %v, %v", changed, err)
	}
	if got, err := handshake(t, addr, ca, "site.test", nil); err != nil || got.Subject.CommonName != "v2" {
		t.Fatalf("after refresh: %v, %v; want v2", got, err)
	}
	writeFile(t, p.CertFile, []byte("not a certificate"))
	if changed, err := s.Refresh(); changed || err == nil || !strings.Contains(err.Error(), "site.crt") {
		t.Fatalf("Refresh of a broken file: %v, %v; want an error naming it", changed, err)
	}
	if got, err := handshake(t, addr, ca, "site.test", nil); err != nil || got.Subject.CommonName != "v2" {
		t.Fatalf("after a broken refresh: %v, %v; want v2 still", got, err)
	}
	if changed, err := s.Refresh(); changed || err != nil {
		t.Fatalf("Refresh of the same broken file again: %v, %v; want it reported once", changed, err)
	}
	ca.leaf(t, dir, "site", "ecdsa", "v3", "site.test") // mended
	if changed, err := s.Refresh(); !changed || err != nil {
		t.Fatalf("Refresh after the file is mended: %v, %v", changed, err)
	}
}

// Watch refreshes on its own; the test waits for its report.
func TestWatch(t *testing.T) {
	ca, dir := newCA(t), t.TempDir()
	p := ca.leaf(t, dir, "site", "ecdsa", "v1", "site.test")
	s, err := New([]Pair{p}, false)
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	reports := make(chan error, 8)
	go s.Watch(5*time.Millisecond, stop, func(changed bool, err error) { reports <- err })
	t.Cleanup(func() { close(stop) })
	ca.leaf(t, dir, "site", "ecdsa", "v2", "site.test")
	select {
	case err := <-reports:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Watch did not report the change")
	}
	addr := serve(t, s)
	if got, err := handshake(t, addr, ca, "site.test", nil); err != nil || got.Subject.CommonName != "v2" {
		t.Fatalf("after watch: %v, %v; want v2", got, err)
	}
}

func TestNewErrors(t *testing.T) {
	ca, dir := newCA(t), t.TempDir()
	good := ca.leaf(t, dir, "good", "ecdsa", "good", "good.test")
	noNames := ca.leaf(t, dir, "nonames", "ecdsa", "nonames")
	for _, c := range []struct {
		name  string
		pairs []Pair
		want  string
	}{
		{"none", nil, "no certificate"},
		{"missing file", []Pair{{CertFile: filepath.Join(dir, "nope.crt"), KeyFile: good.KeyFile}}, "nope.crt"},
		{"key of another certificate", []Pair{{CertFile: good.CertFile, KeyFile: noNames.KeyFile}}, "good.crt"},
		{"a later certificate without names", []Pair{good, noNames}, "subjectAltName"},
	} {
		if _, err := New(c.pairs, false); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", c.name, err, c.want)
		}
	}
}
