package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/bouncer-proxy/bouncer/bench/internal/harness"
)

// scenarios is every scenario the harness knows, in the order they run: wrk
// over the targets' plain HTTP/1.1 listener ("h1"), h2load with h2 over
// their TLS listener ("tls").
var scenarios = []harness.Scenario{
	{Name: "http1-small", Listener: "h1", Scheme: "http", Path: "/64", Size: 64, Latency: "p99_ms"},
	{Name: "http1-4k", Listener: "h1", Scheme: "http", Path: "/4k", Size: 4096, Latency: "p99_ms"},
	{Name: "h2-tls", Listener: "tls", H2load: true, Scheme: "https", Path: "/64", Size: 64, Latency: "mean_ms"},
}

// checker makes one request the way a scenario will and checks status 200,
// the body size and, for TLS, that h2 was negotiated and the certificate
// verifies against caFile.
type checker struct{ caFile string }

func (c checker) Check(ctx context.Context, j harness.Job, addr string) error {
	s := j.Scenario
	tr := &http.Transport{}
	if s.Scheme == "https" {
		pem, err := os.ReadFile(c.caFile)
		if err != nil {
			return fmt.Errorf("read ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("ca %s: no certificate", c.caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool}
		tr.ForceAttemptHTTP2 = true
	}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.Scheme+"://"+addr+s.Path, nil)
	if err != nil {
		return fmt.Errorf("request: %w", err)
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return fmt.Errorf("get %s: %w", req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	switch {
	case err != nil:
		return fmt.Errorf("get %s: body: %w", req.URL, err)
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("get %s: status %d", req.URL, resp.StatusCode)
	case len(body) != s.Size:
		return fmt.Errorf("get %s: body %d bytes, want %d", req.URL, len(body), s.Size)
	case s.Scheme == "https" && resp.ProtoMajor != 2:
		return fmt.Errorf("get %s: protocol %s, want HTTP/2", req.URL, resp.Proto)
	}
	return nil
}
