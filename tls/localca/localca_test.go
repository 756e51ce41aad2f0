package localca

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestOpenCreatesThenReloads(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	ca, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, "root.key"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("root.key mode = %v, want 0600", st.Mode().Perm())
	}
	again, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Cert.Equal(ca.Cert) {
		t.Error("a second Open made a new root instead of loading the kept one")
	}
	if !ca.Cert.IsCA || ca.RootFile() != filepath.Join(dir, "root.crt") {
		t.Errorf("root: IsCA=%v file=%s", ca.Cert.IsCA, ca.RootFile())
	}
}

func TestOpenRefusesABrokenRoot(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "root.key"), []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir); err == nil {
		t.Fatal("a root with a broken key was accepted (or silently replaced)")
	}
}

// A real TLS client that trusts only root.crt verifies the listener's
// certificate for each of its names, DNS and IP.
func TestHandshakeTrustsRoot(t *testing.T) {
	ca, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	is, err := ca.NewIssuer([]string{"localhost", "App.Test", "127.0.0.1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{GetCertificate: is.GetCertificate})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _ = c.(*tls.Conn).Handshake(); c.Close() }()
		}
	}()
	pem, err := os.ReadFile(ca.RootFile())
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	for _, name := range []string{"localhost", "app.test", ""} {
		c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: roots, ServerName: name})
		if name == "" {
			// No SNI: the client verifies the IP it dialed.
			c, err = tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"})
		}
		if err != nil {
			t.Fatalf("handshake for %q: %v", name, err)
		}
		c.Close()
	}
	if _, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: roots, ServerName: "other.test"}); err == nil {
		t.Error("the certificate verified for a name it does not carry")
	}
}

func TestCovers(t *testing.T) {
	ca, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	is, err := ca.NewIssuer([]string{"localhost", "*.dev.test"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"localhost": true, "LOCALHOST.": true, "a.dev.test": true, "a.b.dev.test": false, "dev.test": false, "": false, "other": false} {
		if got := is.Covers(name); got != want {
			t.Errorf("Covers(%q) = %v, want %v", name, got, want)
		}
	}
	withIP, err := ca.NewIssuer([]string{"127.0.0.1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !withIP.Covers("") {
		t.Error("an issuer with an IP does not cover clients without SNI")
	}
	// clients that send an IP literal as SNI (against RFC 6066) still get
	// the certificate under strict_sni
	for name, want := range map[string]bool{"127.0.0.1": true, "127.0.0.2": false, "::1": false} {
		if got := withIP.Covers(name); got != want {
			t.Errorf("Covers(%q) = %v, want %v", name, got, want)
		}
	}
}

// The key is readable by its owner only even when a temporary file of an
// earlier, interrupted run (or someone else's) sits where it is written.
func TestOpenKeyModeDespiteLeftoverTemp(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "root.key.tmp"), []byte("stale"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "root.key.tmp"), 0o644); err != nil { // whatever the umask
		t.Fatal(err)
	}
	if _, err := Open(dir); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, "root.key"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("root.key mode = %v, want 0600", st.Mode().Perm())
	}
	if st, err := os.Stat(filepath.Join(dir, "root.crt")); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("root.crt: %v, %v; want mode 0644", st, err)
	}
}

// The certificate is issued again once two thirds of its lifetime have
// passed, and not before.
func TestRenewal(t *testing.T) {
	ca, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	is := &Issuer{ca: ca, names: []string{"localhost"}, ips: []net.IP{net.ParseIP("::1")}, lifetime: 3 * time.Hour, now: func() time.Time { return now }}
	first, err := is.GetCertificate(nil)
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(119 * time.Minute)
	if c, _ := is.GetCertificate(nil); c != first {
		t.Error("issued again before two thirds of the lifetime")
	}
	now = now.Add(2 * time.Minute)
	second, err := is.GetCertificate(nil)
	if err != nil {
		t.Fatal(err)
	}
	if second == first || second.Leaf.SerialNumber.Cmp(first.Leaf.SerialNumber) == 0 {
		t.Error("not issued again after two thirds of the lifetime")
	}
	if !second.Leaf.NotAfter.Equal(now.Add(3*time.Hour).Truncate(time.Second)) && second.Leaf.NotAfter.Sub(now) > 3*time.Hour {
		t.Errorf("NotAfter = %v", second.Leaf.NotAfter)
	}
}
