package testsvc

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bouncer-proxy/bouncer/tls/certstest"
)

// PebbleOptions shape the Pebble ACME server a test starts.
type PebbleOptions struct {
	// HTTPPort and TLSPort are where Pebble validates HTTP-01 and
	// TLS-ALPN-01 challenges on 127.0.0.1: the ports of the test's own
	// listeners. Zero picks a free port (read it back from Pebble).
	HTTPPort, TLSPort int
	// EAB, when not empty, makes external account binding required and
	// lists the accepted key IDs with their base64url HMAC keys.
	EAB map[string]string
	// CertValidity is the lifetime of the certificates Pebble issues,
	// in whole seconds (zero: Pebble's default of five years).
	CertValidity time.Duration
	// DNSServer, when set (host:port), is the DNS server Pebble resolves
	// through instead of challtestsrv (which still runs), e.g. a named
	// from StartNamed for DNS-01 against a real zone.
	DNSServer string
}

// Pebble is a running Pebble ACME server with its mock DNS server,
// pebble-challtestsrv, which answers every A query with 127.0.0.1 so that
// Pebble validates challenges against the test's loopback listeners.
type Pebble struct {
	Directory       string         // ACME directory URL
	APIRoots        *x509.CertPool // trusts Pebble's API (and management) certificate
	APIRootsFile    string         // the same root as a PEM file
	HTTPPort        int            // where HTTP-01 is validated
	TLSPort         int            // where TLS-ALPN-01 is validated
	DNSAddr         string         // challtestsrv DNS, host:port (UDP and TCP)
	ChallTestSrvURL string         // challtestsrv management API, e.g. for /set-txt

	mgmt   string // Pebble management API base URL
	client *http.Client
	proc   *Proc // pebble
	chall  *Proc // pebble-challtestsrv
}

// StartPebble starts pebble-challtestsrv and pebble on free loopback ports
// and waits until Pebble's directory and the mock DNS answer. Both end
// with the test. A port taken between FreePort and the program binding
// it makes it start again on new ports (up to three times).
func StartPebble(t testing.TB, opts PebbleOptions) *Pebble {
	t.Helper()
	pebbleBin := Binary(t, "pebble")
	challBin := Binary(t, "pebble-challtestsrv")
	dir := t.TempDir()
	ca := certstest.NewCA(t)
	api := ca.Leaf(t, dir, "pebble-api", "ecdsa", "pebble api", "localhost", "127.0.0.1")
	rootsFile := filepath.Join(dir, "pebble-api-ca.pem")
	certstest.WriteFile(t, rootsFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw}))
	for attempt := 1; ; attempt++ {
		p := &Pebble{
			APIRoots: ca.Pool, APIRootsFile: rootsFile,
			HTTPPort: orFree(t, opts.HTTPPort), TLSPort: orFree(t, opts.TLSPort),
			DNSAddr:         loopback(FreePort(t)),
			ChallTestSrvURL: "http://" + loopback(FreePort(t)),
			client: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
				TLSClientConfig: &tls.Config{RootCAs: ca.Pool},
			}},
		}
		err := startChallTestSrv(t, challBin, p)
		if err == nil {
			err = startPebbleProc(t, pebbleBin, dir, api, p, opts)
		}
		if err == nil {
			return p
		}
		if attempt == 3 || !errors.Is(err, errPortTaken) {
			t.Fatal(err)
		}
		for _, proc := range []*Proc{p.chall, p.proc} {
			if proc != nil {
				proc.Stop()
			}
		}
	}
}

// startPebbleProc runs pebble itself on new API and management ports.
func startPebbleProc(t testing.TB, bin, dir string, api certstest.Files, p *Pebble, opts PebbleOptions) error {
	t.Helper()
	apiAddr, mgmtAddr := loopback(FreePort(t)), loopback(FreePort(t))
	p.Directory = "https://" + apiAddr + "/dir"
	p.mgmt = "https://" + mgmtAddr
	conf := pebbleConfig(t, dir, apiAddr, mgmtAddr, api, p, opts)
	dnsServer := p.DNSAddr
	if opts.DNSServer != "" {
		dnsServer = opts.DNSServer
	}
	p.proc = Start(t, bin, []string{"-config", conf, "-dnsserver", dnsServer}, []string{
		"PEBBLE_VA_NOSLEEP=1",      // else each validation sleeps up to 15 s
		"PEBBLE_WFE_NONCEREJECT=0", // else 5 % of good nonces are refused
		"PEBBLE_AUTHZREUSE=0",      // else later orders may skip validation
	})
	return waitReady(p.proc, 15*time.Second, func() error {
		_, err := p.get(p.Directory)
		return err
	})
}

// startChallTestSrv runs the mock DNS server. Its IPv6 default is emptied:
// Pebble asks for AAAA first and would otherwise dial [::1].
func startChallTestSrv(t testing.TB, bin string, p *Pebble) error {
	t.Helper()
	dnsFlag := "-dns01" // Pebble 2.4 (Debian); v2.10 renamed it
	if help, _ := exec.Command(bin, "-h").CombinedOutput(); strings.Contains(string(help), "-dnsserver") {
		dnsFlag = "-dnsserver"
	}
	args := []string{
		dnsFlag, p.DNSAddr, "-management", strings.TrimPrefix(p.ChallTestSrvURL, "http://"),
		"-http01", "", "-https01", "", "-tlsalpn01", "",
		"-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
	}
	if dnsFlag == "-dnsserver" {
		args = append(args, "-doh", "") // v2.10 would open a DoH listener on :8443
	}
	p.chall = Start(t, bin, args, nil)
	resolver := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, p.DNSAddr)
	}}
	// probe the real APIs: a bare connect could reach whoever took the port
	return waitReady(p.chall, 10*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		if err := p.challPost(ctx, "/clear-txt", map[string]string{"host": "ready.test."}); err != nil {
			return err
		}
		_, err := resolver.LookupHost(ctx, "ready.test")
		return err
	})
}

// errPortTaken: the program found one of its ports in use.
var errPortTaken = errors.New("port taken")

// waitReady polls ready every 20 ms until it returns nil (nil), the
// process reports a port in use (errPortTaken) or exits, or timeout
// passes. A failed start is stopped.
func waitReady(p *Proc, timeout time.Duration, ready func() error) error {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-p.Exited():
			return exitErr(p)
		default:
		}
		if strings.Contains(p.Output(), "address already in use") {
			p.Stop() // challtestsrv logs a failed bind and keeps running
			return fmt.Errorf("%s: %w", p.cmd.Path, errPortTaken)
		}
		err := ready()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			p.Stop()
			return fmt.Errorf("%s not ready after %v: %w\n%s", p.cmd.Path, timeout, err, p.Output())
		}
		select {
		case <-p.Exited():
			return exitErr(p)
		case <-tick.C:
		}
	}
}

// exitErr explains why p ended before it was ready.
func exitErr(p *Proc) error {
	if strings.Contains(p.Output(), "address already in use") {
		return fmt.Errorf("%s: %w", p.cmd.Path, errPortTaken)
	}
	return fmt.Errorf("%s exited before it was ready:\n%s", p.cmd.Path, p.Output())
}

// pebbleConfig writes Pebble's JSON configuration and returns its path.
func pebbleConfig(t testing.TB, dir, apiAddr, mgmtAddr string, api certstest.Files, p *Pebble, opts PebbleOptions) string {
	t.Helper()
	c := map[string]any{
		"listenAddress": apiAddr, "managementListenAddress": mgmtAddr,
		"certificate": api.CertFile, "privateKey": api.KeyFile,
		"httpPort": p.HTTPPort, "tlsPort": p.TLSPort, "ocspResponderURL": "",
		"externalAccountBindingRequired": len(opts.EAB) > 0,
	}
	if len(opts.EAB) > 0 {
		c["externalAccountMACKeys"] = opts.EAB
	}
	if opts.CertValidity > 0 {
		c["certificateValidityPeriod"] = int(opts.CertValidity / time.Second)
	}
	b, err := json.Marshal(map[string]any{"pebble": c})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "pebble-config.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Roots fetches the root and intermediate of this Pebble run (new keys on
// every start) from the management API: the pool a client needs to verify
// the certificates Pebble issued.
func (p *Pebble) Roots(t testing.TB) *x509.CertPool {
	t.Helper()
	pool := x509.NewCertPool()
	for _, path := range []string{"/roots/0", "/intermediates/0"} {
		b, err := p.get(p.mgmt + path)
		if err != nil {
			t.Fatalf("pebble %s: %v", path, err)
		}
		if !pool.AppendCertsFromPEM(b) {
			t.Fatalf("pebble %s: no PEM certificate in %q", path, b)
		}
	}
	return pool
}

// RootCert is the root of this run, parsed (for comparing issuers).
func (p *Pebble) RootCert(t testing.TB) *x509.Certificate {
	t.Helper()
	b, err := p.get(p.mgmt + "/roots/0")
	if err != nil {
		t.Fatalf("pebble root: %v", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("pebble root: no PEM block")
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// ordersLine is what Pebble 2.4 logs after storing each new order. Its
// management API has no endpoint listing orders, and the count in the
// log is the size of its order store, so the last line is the total.
var ordersLine = regexp.MustCompile(`There are now (\d+) orders in the db`)

// Orders is the number of ACME orders Pebble has created so far.
func (p *Pebble) Orders() int {
	m := ordersLine.FindAllStringSubmatch(p.proc.Output(), -1)
	if len(m) == 0 {
		return 0
	}
	n, _ := strconv.Atoi(m[len(m)-1][1])
	return n
}

// Output is Pebble's log so far.
func (p *Pebble) Output() string { return p.proc.Output() }

// get fetches url over HTTPS, trusting Pebble's API certificate.
func (p *Pebble) get(url string) ([]byte, error) {
	resp, err := p.client.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return b, nil
}

func orFree(t testing.TB, port int) int {
	if port != 0 {
		return port
	}
	return FreePort(t)
}

func loopback(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// SetTXT makes the mock DNS server answer TXT queries for host (a fully
// qualified name, with or without the final dot) with value.
func (p *Pebble) SetTXT(host, value string) error {
	return p.challPost(context.Background(), "/set-txt", map[string]string{"host": fqdn(host), "value": value})
}

// ClearTXT removes the TXT records of host from the mock DNS server.
func (p *Pebble) ClearTXT(host string) error {
	return p.challPost(context.Background(), "/clear-txt", map[string]string{"host": fqdn(host)})
}

func (p *Pebble) challPost(ctx context.Context, path string, body map[string]string) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.ChallTestSrvURL+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("challtestsrv %s: %w", path, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("challtestsrv %s: %s", path, resp.Status)
	}
	return nil
}

func fqdn(host string) string {
	if strings.HasSuffix(host, ".") {
		return host
	}
	return host + "."
}
