package main

import (
	"crypto/tls"
	"encoding/pem"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quic-go/quic-go/http3"

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
	p, err = parseFlags([]string{"-target", "caddy,pid=4,tls=127.0.0.1:2,h3=127.0.0.1:2", "-target", "nginx,pid=5,tls=127.0.0.1:3",
		"-scenarios", "h3,tls-handshakes", "-loadgen-dir", "/gen", "-out", "x.md"})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Targets) != 3 || p.Targets[2].Name != "caddy/h2" || p.Targets[2].PID != 4 ||
		p.Targets[2].Addrs["h3-h2"] != "127.0.0.1:2" {
		t.Fatalf("targets %+v", p.Targets)
	}
	if len(p.Scenarios) != 3 || p.Scenarios[0].Gen != "/gen/tlsload" || p.Scenarios[2].Args[0] != "-h2" ||
		p.Refs["h3"] != "caddy" || p.Refs["tls-handshakes"] != "nginx" || p.RefKnob != "ref=nginx ref_h3=caddy" {
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

// handler answers /64 with 64 bytes, the rest with 404.
var handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/64" {
		http.NotFound(w, r)
		return
	}
	w.Write([]byte(strings.Repeat("x", 64)))
})

// startH3 serves handler over HTTP/3 with cert on a UDP port of 127.0.0.1.
func startH3(t *testing.T, cert tls.Certificate) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http3.Server{Handler: handler, TLSConfig: http3.ConfigureTLSConfig(&tls.Config{Certificates: []tls.Certificate{cert}})}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(pc) }()
	t.Cleanup(func() { srv.Close(); pc.Close(); <-done })
	return pc.LocalAddr().String()
}

func TestDerivedH2(t *testing.T) {
	got := derivedH2([]harness.Target{
		{Name: "caddy", PID: 3, Addrs: map[string]string{"tls": "a:1", "h3": "a:1"}},
		{Name: "nginx", PID: 4, Addrs: map[string]string{"tls": "a:2"}},
	})
	if len(got) != 1 || got[0].Name != "caddy/h2" || got[0].PID != 3 || got[0].Addrs["h3-h2"] != "a:1" {
		t.Errorf("derived %+v", got)
	}
}

func TestChecker(t *testing.T) {
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
	h3addr := startH3(t, secure.TLS.Certificates[0])
	old := httptest.NewUnstartedServer(handler)
	old.TLS = &tls.Config{MaxVersion: tls.VersionTLS12, Certificates: secure.TLS.Certificates}
	old.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	old.StartTLS()
	defer old.Close()
	byName := func(name, listener string) harness.Scenario {
		for _, s := range scenarios {
			if s.Name == name && s.Listener == listener {
				return s
			}
		}
		t.Fatalf("no scenario %s on %s", name, listener)
		return harness.Scenario{}
	}
	hs, h3, h3h2 := byName("tls-handshakes", keyTLS), byName("h3", keyH3), byName("h3", keyH3H2)
	tests := []struct {
		scen    harness.Scenario
		addr    string
		wantErr bool
	}{
		{scenarios[0], addr(plain), false},
		{scenarios[1], addr(plain), true}, // 404
		{scenarios[2], addr(secure), false},
		{scenarios[2], addr(plain), true}, // no TLS there
		{hs, addr(secure), false},
		{hs, addr(old), true}, // TLS 1.2 only
		{h3, h3addr, false},
		{h3h2, addr(secure), false},
	}
	for _, tc := range tests {
		err := c.Check(t.Context(), harness.Job{Scenario: tc.scen}, tc.addr)
		if (err != nil) != tc.wantErr {
			t.Errorf("%s at %s: err %v, want error %v", tc.scen.Name, tc.addr, err, tc.wantErr)
		}
	}
}
