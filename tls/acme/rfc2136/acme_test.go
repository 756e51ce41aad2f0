package rfc2136

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bouncer-proxy/bouncer/internal/testsvc"
	"github.com/bouncer-proxy/bouncer/tls/acme"
)

// TestDNS01Wildcard obtains a wildcard certificate with DNS-01 end to
// end: the ACME manager writes the challenge into a real BIND zone with
// this provider, finds the zone and checks propagation through named,
// Pebble validates by asking named too, and a client that resolves a
// name under the wildcard through named verifies the served certificate
// against Pebble's roots. certmagic polls propagation every 2 s, so
// this takes at least that long.
func TestDNS01Wildcard(t *testing.T) {
	n := testsvc.StartNamed(t, "dns01.test")
	peb := testsvc.StartPebble(t, testsvc.PebbleOptions{DNSServer: n.Addr})
	logs := &lockedBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("manager log:\n%s\nnamed log:\n%s", logs.String(), n.Output())
		}
	})
	ctx := context.Background()
	m, err := acme.New(ctx, acme.Options{
		CA: peb.Directory, CARootsFile: peb.APIRootsFile, Email: "ops@dns01.test", StorageDir: t.TempDir(),
		DNSProvider: newProvider(t, n, nil),
		Resolvers:   []string{n.Addr},
		Names:       []string{"*.dns01.test"},
		Logger:      slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	addr := serveTLS(t, m.GetCertificate)
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}

	roots := peb.Roots(t)
	var leaf *x509.Certificate
	waitFor(t, 40*time.Second, "a verified certificate for x.dns01.test", func() bool {
		leaf, err = handshake(n.Addr, addr, "x.dns01.test", roots)
		return err == nil
	})
	if !slices.Equal(leaf.DNSNames, []string{"*.dns01.test"}) {
		t.Fatalf("leaf names %v, want [*.dns01.test]", leaf.DNSNames)
	}
	if !strings.Contains(peb.Output(), "resolver for ACME challenges: "+n.Addr) {
		t.Fatal("Pebble did not resolve through named")
	}
	if !strings.Contains(n.Output(), "adding an RR at '_acme-challenge.dns01.test' TXT") {
		t.Fatal("named did not log the challenge record being added")
	}
	waitFor(t, 10*time.Second, "the challenge record removed", func() bool {
		return len(txtAt(t, n, "_acme-challenge."+n.Zone)) == 0
	})
}

// serveTLS runs a TLS server on loopback taking its certificates from
// get, and returns its port.
func serveTLS(t *testing.T, get func(*tls.ClientHelloInfo) (*tls.Certificate, error)) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{GetCertificate: get})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			_ = c.(*tls.Conn).Handshake() // failures are the client's to report
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// handshake resolves name through the DNS server at dnsAddr, connects to
// port there, and returns the leaf verified against roots for name.
func handshake(dnsAddr, port, name string, roots *x509.CertPool) (*x509.Certificate, error) {
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, dnsAddr)
	}}
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 5 * time.Second, Resolver: r}, Config: &tls.Config{ServerName: name, RootCAs: roots}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := d.DialContext(ctx, "tcp4", net.JoinHostPort(name, port))
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.(*tls.Conn).ConnectionState().PeerCertificates[0], nil
}

// waitFor polls cond every 20 ms until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		<-tick.C
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
