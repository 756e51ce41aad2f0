package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Target is one server under test: its process tree and its addresses.
type Target struct {
	Name string
	PID  int    // root of its process tree; 0 when it is the backend itself
	H1   string // host:port of its plain HTTP/1.1 listener
	TLS  string // host:port of its TLS listener (ALPN h2, http/1.1)
}

// parseTarget reads "name,pid=N,h1=host:port,tls=host:port".
func parseTarget(s string) (Target, error) {
	parts := strings.Split(s, ",")
	t := Target{Name: parts[0]}
	for _, p := range parts[1:] {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			return t, fmt.Errorf("target %q: %q is not key=value", s, p)
		}
		switch k {
		case "pid":
			n, err := strconv.Atoi(v)
			if err != nil {
				return t, fmt.Errorf("target %q: pid: %w", s, err)
			}
			t.PID = n
		case "h1":
			t.H1 = v
		case "tls":
			t.TLS = v
		default:
			return t, fmt.Errorf("target %q: unknown key %q", s, k)
		}
	}
	if t.Name == "" {
		return t, fmt.Errorf("target %q: no name", s)
	}
	return t, nil
}

// Scenario is one kind of load: a tool, a path and the listener it needs.
type Scenario struct {
	Name    string
	TLS     bool   // uses the target's TLS listener with h2, else its H1 one
	Path    string // requested path
	Size    int    // body size the check expects
	Latency string // name of the latency figure: p99_ms or mean_ms
}

// scenarios is every scenario the harness knows, in the order they run.
var scenarios = []Scenario{
	{Name: "http1-small", Path: "/64", Size: 64, Latency: "p99_ms"},
	{Name: "http1-4k", Path: "/4k", Size: 4096, Latency: "p99_ms"},
	{Name: "h2-tls", TLS: true, Path: "/64", Size: 64, Latency: "mean_ms"},
}

// addr is the target's listener for s, or "" when it has none.
func (s Scenario) addr(t Target) string {
	if s.TLS {
		return t.TLS
	}
	return t.H1
}

// command is the load generator's argv for a run of d against addr, pinned
// to core with taskset.
func (s Scenario) command(addr string, d time.Duration, core int) []string {
	secs := strconv.Itoa(int(d.Round(time.Second) / time.Second))
	pin := []string{"taskset", "-c", strconv.Itoa(core)}
	if s.TLS {
		return append(pin, "h2load", "-t1", "-c4", "-m32", "-D", secs,
			"https://"+addr+s.Path)
	}
	return append(pin, "wrk", "-t1", "-c50", "-d"+secs+"s", "--latency",
		"http://"+addr+s.Path)
}

// runLoad runs the load generator for d and parses what it prints. The run
// is bounded: it is killed if it lasts 30 s longer than asked.
func (s Scenario) runLoad(ctx context.Context, addr string, d time.Duration, core int) (LoadResult, error) {
	ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	argv := s.command(addr, d, core)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return LoadResult{}, fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, tail(out))
	}
	var r LoadResult
	if s.TLS {
		r, err = parseH2load(string(out))
	} else {
		r, err = parseWrk(string(out))
	}
	if err != nil {
		return r, fmt.Errorf("%w: %s", err, tail(out))
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.CPU = rusageSeconds(ru)
	}
	return r, nil
}

// tail is the last few hundred bytes of a tool's output, for error messages.
func tail(b []byte) string {
	const n = 400
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return strings.TrimSpace(string(b))
}

// checkResponse makes one request the way the scenario will and checks
// status 200, the body size and, for TLS, that h2 was negotiated and the
// certificate verifies against caFile.
func (s Scenario) checkResponse(ctx context.Context, addr, caFile string) error {
	tr := &http.Transport{}
	scheme := "http"
	if s.TLS {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return fmt.Errorf("read ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("ca %s: no certificate", caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool}
		tr.ForceAttemptHTTP2 = true
		scheme = "https"
	}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+addr+s.Path, nil)
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
	case s.TLS && resp.ProtoMajor != 2:
		return fmt.Errorf("get %s: protocol %s, want HTTP/2", req.URL, resp.Proto)
	}
	return nil
}
