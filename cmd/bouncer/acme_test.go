package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bouncer-proxy/bouncer/internal/testsvc"
)

// acmeConfig is a Bouncer config whose certificates come from pb: a
// plain listener on Pebble's HTTP-01 port that redirects to https, and a
// TLS listener on its TLS-ALPN-01 port with managed and on-demand names.
func acmeConfig(t *testing.T, pb *testsvc.Pebble, httpAddr, tlsAddr, challenge, storage string) string {
	return fmt.Sprintf(`admin: {address: "127.0.0.1:0"}
server: {data_dir: %q}
listeners:
  - {name: web, address: %q, redirect_https: {port: %d}}
  - name: secure
    address: %q
    protocols: [http1, h2]
    tls:
      acme:
        names: [a.example.test]
        on_demand: {allow: ["*.shop.test"], rate_limit: 5}
routes:
  - respond: {status: 200, body: "hello"}
acme:
  ca: %s
  ca_roots: %q
  email: ops@example.test
  challenges: [%s]
  http_port: %d
  tls_port: %d
%s`, t.TempDir(), httpAddr, pb.TLSPort, tlsAddr, pb.Directory, pb.APIRootsFile, challenge, pb.HTTPPort, pb.TLSPort, storage)
}

func loopbackPort(port int) string { return fmt.Sprintf("127.0.0.1:%d", port) }

// handshake connects to addr as name and returns the leaf it was served,
// verified against roots.
func handshake(addr, name string, roots *x509.CertPool) (*x509.Certificate, error) {
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{ServerName: name, RootCAs: roots, NextProtos: []string{"h2"}})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0], nil
}

// waitCert polls until addr serves a certificate for name that roots
// verify (bounded: issuance against Pebble takes about half a second).
func waitCert(t *testing.T, addr, name string, roots *x509.CertPool) *x509.Certificate {
	t.Helper()
	var leaf *x509.Certificate
	var last error
	if !poll(30*time.Second, func() bool { leaf, last = handshake(addr, name, roots); return last == nil }) {
		t.Fatalf("no valid certificate for %s at %s: %v", name, addr, last)
	}
	return leaf
}

// TestACMEWithPebble: Bouncer obtains a certificate for its managed name
// from a real ACME CA over each challenge type, answered by its own
// listeners; serves on-demand names the allowlist accepts and refuses
// others fast without an order; and redirects plain HTTP to https.
func TestACMEWithPebble(t *testing.T) {
	for _, challenge := range []string{"http-01", "tls-alpn-01"} {
		t.Run(challenge, func(t *testing.T) {
			pb := testsvc.StartPebble(t, testsvc.PebbleOptions{})
			cfg := filepath.Join(t.TempDir(), "bouncer.yaml")
			httpAddr, tlsAddr := loopbackPort(pb.HTTPPort), loopbackPort(pb.TLSPort)
			text := acmeConfig(t, pb, httpAddr, tlsAddr, challenge, "")
			writeFile(t, cfg, text)
			p := startBouncer(t, cfg)
			roots := pb.Roots(t)
			leaf := waitCert(t, tlsAddr, "a.example.test", roots)
			if !strings.HasPrefix(leaf.Issuer.CommonName, "Pebble") {
				t.Errorf("issuer %q", leaf.Issuer.CommonName)
			}
			if n := pb.Orders(); n != 1 {
				t.Errorf("orders = %d after one managed name, want 1", n)
			}
			if _, body := p.adminGet("/metrics"); !strings.Contains(body, `bouncer_tls_certificate_expiry_timestamp_seconds{name="a.example.test"}`) {
				t.Error("no expiry gauge for a.example.test in /metrics")
			}

			// On demand: an allowed name at its first handshake; a refused
			// one fails at once and orders nothing.
			waitCert(t, tlsAddr, "x.shop.test", roots)
			start := time.Now()
			if _, err := handshake(tlsAddr, "other.test", roots); err == nil {
				t.Error("a name outside the allowlist got a certificate")
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("refusing a name took %v", d)
			}
			if n := pb.Orders(); n != 2 {
				t.Errorf("orders = %d, want 2 (the managed and the allowed name)", n)
			}

			// A reload that adds a name: the kept manager obtains it.
			writeFile(t, cfg, strings.Replace(text, "names: [a.example.test]", "names: [a.example.test, b.example.test]", 1))
			p.signal(syscall.SIGHUP)
			waitCert(t, tlsAddr, "b.example.test", roots)

			// A reload that fails after the certificate settings were
			// read (a new listener's address is taken) changes no names:
			// c.example.test is never ordered, while the next good reload
			// orders d.example.test.
			busy, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer busy.Close()
			orders := pb.Orders()
			withNames := func(names string) string {
				return strings.Replace(text, "names: [a.example.test]", "names: ["+names+"]", 1)
			}
			taken := fmt.Sprintf("  - {name: taken, address: %q}\nroutes:\n", busy.Addr().String())
			writeFile(t, cfg, strings.Replace(withNames("a.example.test, b.example.test, c.example.test"), "routes:\n", taken, 1))
			p.signal(syscall.SIGHUP)
			p.waitStatus("the reload with a taken address to fail", func(s reloadStatus) bool { return s.Failures == 1 })
			writeFile(t, cfg, withNames("a.example.test, b.example.test, d.example.test"))
			p.signal(syscall.SIGHUP)
			waitCert(t, tlsAddr, "d.example.test", roots)
			if n := pb.Orders(); n != orders+1 {
				t.Errorf("orders = %d after a failed and a good reload, want %d (d.example.test only)", n, orders+1)
			}
			if _, err := handshake(tlsAddr, "c.example.test", roots); err == nil {
				t.Error("c.example.test, named only by the failed reload, got a certificate")
			}

			c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			res, err := c.Get("http://" + httpAddr + "/page?q=1")
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if want := fmt.Sprintf("https://127.0.0.1:%d/page?q=1", pb.TLSPort); res.StatusCode != http.StatusPermanentRedirect || res.Header.Get("Location") != want {
				t.Errorf("plain HTTP: %d %q, want 308 %q", res.StatusCode, res.Header.Get("Location"), want)
			}
		})
	}
}

// TestACMESharedRedisStorage: two Bouncer processes share certificates
// through one real Redis. The first orders the certificate; the second,
// started afterwards, serves the same one without a new order.
func TestACMESharedRedisStorage(t *testing.T) {
	rd := testsvc.StartRedis(t)
	pb := testsvc.StartPebble(t, testsvc.PebbleOptions{})
	storage := fmt.Sprintf("  storage: {redis: {address: %q, prefix: \"test:\"}}\n", rd.Addr)
	roots := pb.Roots(t)

	cfgA := filepath.Join(t.TempDir(), "a.yaml")
	writeFile(t, cfgA, acmeConfig(t, pb, loopbackPort(pb.HTTPPort), loopbackPort(pb.TLSPort), "http-01", storage))
	startBouncer(t, cfgA)
	leafA := waitCert(t, loopbackPort(pb.TLSPort), "a.example.test", roots)

	cfgB := filepath.Join(t.TempDir(), "b.yaml")
	writeFile(t, cfgB, acmeConfig(t, pb, "127.0.0.1:0", "127.0.0.1:0", "http-01", storage))
	b := startBouncer(t, cfgB)
	addrB := strings.TrimPrefix(b.url("secure"), "https://")
	leafB := waitCert(t, addrB, "a.example.test", roots)
	if leafA.SerialNumber.Cmp(leafB.SerialNumber) != 0 {
		t.Errorf("the second instance serves serial %x, the first %x", leafB.SerialNumber, leafA.SerialNumber)
	}
	// The same serial already shows that nothing was ordered for the
	// second instance (a new order would give a new certificate).
	if n := pb.Orders(); n != 1 {
		t.Errorf("orders = %d with two instances sharing storage, want 1", n)
	}
}

// TestACMEDNS01Wildcard: with acme.dns, Bouncer proves a wildcard name
// through RFC 2136 updates to a real BIND server that Pebble resolves
// through, and serves the wildcard certificate.
func TestACMEDNS01Wildcard(t *testing.T) {
	named := testsvc.StartNamed(t, "dns01.test")
	pb := testsvc.StartPebble(t, testsvc.PebbleOptions{DNSServer: named.Addr})
	p := startConfig(t, fmt.Sprintf(`admin: {address: "127.0.0.1:0"}
server: {data_dir: %q}
listeners:
  - name: secure
    address: 127.0.0.1:0
    protocols: [http1, h2]
    tls: {acme: {names: ["*.dns01.test"]}}
routes:
  - respond: {status: 200, body: "hello"}
acme:
  ca: %s
  ca_roots: %q
  dns:
    rfc2136: {server: %q, key_name: %q, key_secret: %q}
    resolvers: [%q]
`, t.TempDir(), pb.Directory, pb.APIRootsFile, named.Addr, named.KeyName, named.KeySecret, named.Addr))
	leaf := waitCert(t, strings.TrimPrefix(p.url("secure"), "https://"), "x.dns01.test", pb.Roots(t))
	if len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != "*.dns01.test" {
		t.Errorf("served names %v, want the wildcard", leaf.DNSNames)
	}
}

// TestACMEThroughL4Router: on a TCP-only listener whose routes terminate
// TLS, the CA's TLS-ALPN-01 hellos (ALPN acme-tls/1) are answered by
// Bouncer's certificate manager, never routed, and the certificate it
// obtains then serves the TCP route.
func TestACMEThroughL4Router(t *testing.T) {
	pb := testsvc.StartPebble(t, testsvc.PebbleOptions{})
	raw := tcpBackend(t, "raw", false)
	tlsAddr := loopbackPort(pb.TLSPort)
	startConfig(t, fmt.Sprintf(`admin: {address: "127.0.0.1:0"}
server: {data_dir: %q}
listeners:
  - {name: edge, address: %q, protocols: [tcp], tls: {acme: {names: [mq.example.test]}}}
l4_routes:
  - {match: {sni: [mq.example.test]}, terminate: {upstream: raw}}
upstreams:
  raw: {endpoints: [%q]}
acme:
  ca: %s
  ca_roots: %q
  challenges: [tls-alpn-01]
  http_port: %d
  tls_port: %d
`, t.TempDir(), tlsAddr, raw, pb.Directory, pb.APIRootsFile, pb.HTTPPort, pb.TLSPort))
	roots := pb.Roots(t)
	waitCert(t, tlsAddr, "mq.example.test", roots)
	c, err := tls.Dial("tcp", tlsAddr, &tls.Config{ServerName: "mq.example.test", RootCAs: roots})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := lineClient(t, c, "hello"); got != "raw: hello" {
		t.Errorf("terminated TCP route answered %q", got)
	}
}
