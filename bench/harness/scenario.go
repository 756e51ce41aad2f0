package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/quic-go/quic-go/http3"

	"github.com/bouncer-proxy/bouncer/bench/internal/harness"
)

// Listener keys of a target (its -target flag): plain HTTP/1.1, TLS (h2 and
// http/1.1), HTTP/3 on the UDP side of the TLS port, and the TLS port again
// for an "X/h2" target, the h2 rows of the h3 scenario (see derivedH2).
const (
	keyH1   = "h1"
	keyTLS  = "tls"
	keyH3   = "h3"
	keyH3H2 = "h3-h2"
)

// scenarios is every scenario the harness knows, in the order they run: wrk
// over the targets' plain HTTP/1.1 listener, h2load with h2 over their TLS
// listener, bench/loadgen/tlsload's full handshakes on the TLS listener, and
// bench/loadgen/h3load over HTTP/3 and, with the same client, over h2 (the
// two "h3" entries are one scenario: their jobs share a table), and
// bench/loadgen/tcpload's download from a TCP source and echo connections
// through the targets' raw TCP listeners. Gen names a binary of the load
// generators' directory (-loadgen-dir).
var scenarios = []harness.Scenario{
	{Name: "http1-small", Listener: keyH1, Scheme: "http", Path: "/64", Size: 64, Latency: "p99_ms"},
	{Name: "http1-4k", Listener: keyH1, Scheme: "http", Path: "/4k", Size: 4096, Latency: "p99_ms"},
	{Name: "h2-tls", Listener: keyTLS, H2load: true, Scheme: "https", Path: "/64", Size: 64, Latency: "mean_ms"},
	{Name: "tls-handshakes", Listener: keyTLS, Gen: "tlsload", Scheme: "https", Path: "/64", Size: 64, Latency: "p99_ms"},
	{Name: "h3", Listener: keyH3, Gen: "h3load", Scheme: "https", Path: "/64", Size: 64, Latency: "p99_ms"},
	{Name: "h3", Listener: keyH3H2, Gen: "h3load", Args: []string{"-h2"}, Scheme: "https", Path: "/64", Size: 64, Latency: "p99_ms"},
	{Name: "tcp-throughput", Listener: keySource, Gen: "tcpload", Scheme: "tcp",
		Args: []string{"-mode", "read", "-c", "4"}, Latency: "mean_ms"},
	{Name: "tcp-connrate", Listener: keyEcho, Gen: "tcpload", Scheme: "tcp",
		Args: []string{"-mode", "connrate", "-c", "16", "-size", "64", "-sources", "16"}, Latency: "p99_ms"},
}

// allScenarios are scenarios, then the API-policy ones (policies.go).
var allScenarios = append(slices.Clone(scenarios), policyScenarios...)

// derivedH2 returns, for every target with an h3 listener, a target
// "name/h2" that is the same process loaded over h2 on its TLS listener.
func derivedH2(targets []harness.Target) []harness.Target {
	var out []harness.Target
	for _, t := range targets {
		if t.Addrs[keyH3] != "" && t.Addrs[keyTLS] != "" {
			out = append(out, harness.Target{Name: t.Name + "/h2", PID: t.PID,
				Addrs: map[string]string{keyH3H2: t.Addrs[keyTLS]}})
		}
	}
	return out
}

// checker makes one request the way a scenario will and checks status 200,
// the body size, the protocol and, for TLS, that the certificate verifies
// against caFile.
type checker struct{ caFile string }

func (c checker) Check(ctx context.Context, j harness.Job, addr string) error {
	s := j.Scenario
	if s.Scheme == "tcp" {
		return checkTCP(ctx, s, addr)
	}
	rt, want, err := c.transport(s)
	if err != nil {
		return err
	}
	defer rt.close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	url := s.Scheme + "://" + addr + s.Path
	resp, body, err := get(ctx, rt, url, s.Headers)
	switch {
	case err != nil:
		return err
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("get %s: status %d", url, resp.StatusCode)
	case len(body) != s.Size:
		return fmt.Errorf("get %s: body %d bytes, want %d", url, len(body), s.Size)
	case resp.ProtoMajor != want:
		return fmt.Errorf("get %s: protocol %s, want HTTP/%d", url, resp.Proto, want)
	case s.Gen != "" && resp.TLS != nil && (resp.TLS.Version != tls.VersionTLS13 || resp.TLS.CurveID != tls.X25519):
		return fmt.Errorf("get %s: TLS version %x with %v, want TLS 1.3 with X25519", url, resp.TLS.Version, resp.TLS.CurveID)
	case needsToken(s):
		return checkPolicyRoute(ctx, rt, url, resp)
	case s.Listener == keyCache:
		return checkCacheHit(ctx, rt, url, s.Size)
	}
	return nil
}

// get makes a GET of url with headers ("Name: value") and returns the
// answer with its whole body read and closed.
func get(ctx context.Context, rt http.RoundTripper, url string, headers []string) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("request: %w", err)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return nil, nil, fmt.Errorf("get %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("get %s: body: %w", url, err)
	}
	return resp, body, nil
}

// roundTripper is a transport with the way to close its connections.
type roundTripper struct {
	http.RoundTripper
	close func()
}

// transport is the client of scenario s and the major HTTP version it must
// get: HTTP/1.1 in plain text or, for tls-handshakes, over TLS; h2 for
// h2load and h3load -h2; HTTP/3 for h3load. The Go generators' clients
// offer TLS 1.3 and X25519 only, and so does the check.
func (c checker) transport(s harness.Scenario) (roundTripper, int, error) {
	if s.Scheme != "https" {
		t := &http.Transport{}
		return roundTripper{t, t.CloseIdleConnections}, 1, nil
	}
	cfg, err := c.tlsConfig()
	if err != nil {
		return roundTripper{}, 0, err
	}
	if s.Gen != "" {
		cfg.MinVersion = tls.VersionTLS13
		cfg.CurvePreferences = []tls.CurveID{tls.X25519}
	}
	switch {
	case s.Listener == keyH3:
		t := &http3.Transport{TLSClientConfig: cfg}
		return roundTripper{t, func() { t.Close() }}, 3, nil
	case s.Listener == keyTLS && !s.H2load:
		t := &http.Transport{TLSClientConfig: cfg}
		return roundTripper{t, t.CloseIdleConnections}, 1, nil
	}
	t := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}
	return roundTripper{t, t.CloseIdleConnections}, 2, nil
}

// tlsConfig trusts the certificate of caFile.
func (c checker) tlsConfig() (*tls.Config, error) {
	pem, err := os.ReadFile(c.caFile)
	if err != nil {
		return nil, fmt.Errorf("read ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("ca %s: no certificate", c.caFile)
	}
	return &tls.Config{RootCAs: pool}, nil
}
