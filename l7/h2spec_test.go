package l7_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bouncer-proxy/bouncer/configs"
	"github.com/bouncer-proxy/bouncer/l7"
	"github.com/bouncer-proxy/bouncer/l7/route"
)

// TestH2spec runs the HTTP/2 conformance suite h2spec against h2c
// listeners (alone and sharing the port with HTTP/1.1) and an h2 (TLS)
// listener; every case must pass. (The cases Go's HTTP/2 server fails on
// its own, 6.5.3/1 and 8.1.2.2/1-2, pass through the listener's h2 guard;
// 3.5/2, an invalid preface, passes on the shared port because the strict
// HTTP/1.1 parser closes, without a response, a line that is not HTTP/1.x.)
// scripts/test.sh installs h2spec.
func TestH2spec(t *testing.T) {
	bin := h2specBinary(t)
	for _, tc := range []struct {
		name  string
		cfg   configs.Listener
		flags []string
	}{
		{"h2c+http1", configs.Listener{Name: "c", Protocols: []string{"http1", "h2c"}}, nil},
		{"h2c-only", configs.Listener{Name: "c", Protocols: []string{"h2c"}}, nil},
		{"h2-tls", configs.Listener{Name: "t", Protocols: []string{"http1", "h2"}, TLS: &configs.ListenerTLS{
			CertFile: "../testdata/tls/server.crt", KeyFile: "../testdata/tls/server.key"}}, []string{"-t", "-k"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := startRespondServer(t, tc.cfg)
			host, port, _ := net.SplitHostPort(addr)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			args := append([]string{"-h", host, "-p", port, "-o", "3", "-j", filepath.Join(t.TempDir(), "report.xml")}, tc.flags...)
			out, _ := exec.CommandContext(ctx, bin, args...).CombinedOutput()
			total, passed := h2specSummary(t, out)
			failed := h2specFailures(t, bytes.TrimSpace(out))
			t.Logf("h2spec %s: %d tests, %d passed", tc.name, total, passed)
			for _, id := range failed {
				t.Errorf("h2spec case %s failed", id)
			}
			if total != 145 || passed+len(failed) != total {
				t.Errorf("unexpected h2spec summary: %d tests, %d passed, %d failures parsed\n%s", total, passed, len(failed), out)
			}
		})
	}
}

func h2specBinary(t *testing.T) string {
	if p, err := exec.LookPath("h2spec"); err == nil {
		return p
	}
	p, _ := filepath.Abs("../.bin/h2spec")
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("h2spec is not installed; scripts/test.sh installs it")
		}
		t.Skip("h2spec not installed (LookPath failed; run scripts/test.sh to install it)")
	}
	return p
}

var summaryRE = regexp.MustCompile(`(\d+) tests, (\d+) passed`)

func h2specSummary(t *testing.T, out []byte) (total, passed int) {
	m := summaryRE.FindSubmatch(out)
	if m == nil {
		t.Fatalf("no h2spec summary in output:\n%s", out)
	}
	return atoi(m[1]), atoi(m[2])
}

func atoi(b []byte) int {
	n := 0
	for _, c := range b {
		n = n*10 + int(c-'0')
	}
	return n
}

// h2specFailures reads the failed cases' ids (like "http2/6.5.3/1") from
// the "Failures:" section of h2spec's report.
func h2specFailures(t *testing.T, out []byte) []string {
	_, after, ok := strings.Cut(string(out), "\nFailures:")
	if !ok {
		return nil
	}
	var ids []string
	section := ""
	secRE := regexp.MustCompile(`^\s+(\d+(?:\.\d+)*)\. `)
	failRE := regexp.MustCompile(`^\s+× (\d+): `)
	for _, line := range strings.Split(after, "\n") {
		if m := failRE.FindStringSubmatch(line); m != nil {
			ids = append(ids, "http2/"+section+"/"+m[1])
		} else if m := secRE.FindStringSubmatch(line); m != nil {
			section = m[1]
		}
	}
	return ids
}

// startRespondServer serves a fixed 200 response on a new listener.
func startRespondServer(t *testing.T, lc configs.Listener) string {
	t.Helper()
	lc.Address = "127.0.0.1:0"
	lc.Limits = configs.ListenerLimits{MaxHeaderBytes: 64 << 10, ReadHeaderTimeout: configs.Duration(10 * time.Second),
		IdleTimeout: configs.Duration(time.Minute), MaxConcurrentStreams: 100}
	table, err := route.Compile([]route.Entry[*l7.Route]{{Name: "r", Match: configs.Match{Prefix: "/"},
		Value: &l7.Route{Name: "r", Terminal: l7.NewRespond(configs.RespondAction{Status: 200, Body: "hello from bouncer\n", ContentType: "text/plain"})}}})
	if err != nil {
		t.Fatal(err)
	}
	gw := l7.NewGateway(nil, nil)
	gw.Swap(&l7.Snapshot{Tables: map[string]*route.Table[*l7.Route]{lc.Name: table}, RequestIDHeader: "X-Request-Id"})
	ln, err := net.Listen("tcp", lc.Address)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := l7.NewServer(ln, lc, gw.Handler(lc.Name), l7.ServerOptions{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	})
	return srv.Addr().String()
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
