package main

import (
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bouncer-proxy/bouncer/bench/internal/harness"
)

func TestPickScenarios(t *testing.T) {
	got, err := pickScenarios("h2-tls, http1-small")
	if err != nil || len(got) != 2 || got[0].Name != "http1-small" {
		t.Fatalf("got %+v, %v", got, err)
	}
	if _, err := pickScenarios("nope"); err == nil {
		t.Fatal("unknown scenario accepted")
	}
}

func TestParseFlags(t *testing.T) {
	p, err := parseFlags([]string{"-target", "nginx,pid=4,h1=127.0.0.1:1,tls=127.0.0.1:2",
		"-scenarios", "h2-tls", "-ref", "caddy", "-out", "x.md"})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Targets) != 1 || p.Targets[0].Addrs["tls"] != "127.0.0.1:2" || p.Refs["h2-tls"] != "caddy" ||
		p.RefKnob != "ref=caddy" || p.LatencyMS || p.Opt.Rounds != 5 {
		t.Fatalf("plan %+v", p)
	}
	for _, bad := range [][]string{
		{"-out", "x.md"},
		{"-target", "a,grpc=127.0.0.1:1", "-out", "x.md"},
		{"-target", "a,h1=127.0.0.1:1"},
		{"-target", "a,h1=127.0.0.1:1", "-out", "x.md", "-scenarios", "nope"},
	} {
		if _, err := parseFlags(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestChecker(t *testing.T) {
	body := strings.Repeat("x", 64)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/64" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(body))
	})
	plain := httptest.NewServer(handler)
	defer plain.Close()
	secure := httptest.NewUnstartedServer(handler)
	secure.EnableHTTP2 = true
	secure.StartTLS()
	defer secure.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: secure.Certificate().Raw})
	if err := os.WriteFile(ca, cert, 0o600); err != nil {
		t.Fatal(err)
	}
	c := checker{caFile: ca}
	addr := func(s *httptest.Server) string {
		return strings.TrimPrefix(strings.TrimPrefix(s.URL, "https://"), "http://")
	}
	tests := []struct {
		scen    harness.Scenario
		addr    string
		wantErr bool
	}{
		{scenarios[0], addr(plain), false},
		{scenarios[1], addr(plain), true}, // 404
		{scenarios[2], addr(secure), false},
		{scenarios[2], addr(plain), true}, // no TLS there
	}
	for _, tc := range tests {
		err := c.Check(t.Context(), harness.Job{Scenario: tc.scen}, tc.addr)
		if (err != nil) != tc.wantErr {
			t.Errorf("%s at %s: err %v, want error %v", tc.scen.Name, tc.addr, err, tc.wantErr)
		}
	}
}
