package main

import (
	"crypto/tls"
	"encoding/pem"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bouncer-proxy/bouncer/bench/loadgen/loadstat"
)

// newServer starts a TLS server answering /64 with 64 bytes; maxVersion
// caps its TLS version (0: none).
func newServer(t *testing.T, maxVersion uint16) (addr, caFile string) {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/64" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(strings.Repeat("x", 64)))
	}))
	srv.TLS = &tls.Config{MaxVersion: maxVersion}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	srv.StartTLS()
	t.Cleanup(srv.Close)
	caFile = filepath.Join(t.TempDir(), "ca.pem")
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(caFile, cert, 0o600); err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(srv.URL, "https://"), caFile
}

func TestRun(t *testing.T) {
	addr, ca := newServer(t, 0)
	old, _ := newServer(t, tls.VersionTLS12)
	tests := []struct {
		name    string
		addr    string
		path    string
		size    int
		sources int
		ca      string
		wantOK  bool
	}{
		{"full handshakes", addr, "/64", 64, 0, "", true},
		{"verified, two sources", addr, "/64", 64, 2, ca, true},
		{"wrong size", addr, "/64", 65, 0, "", false},
		{"not found", addr, "/4k", 4096, 0, "", false},
		{"tls 1.2 server", old, "/64", 64, 0, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := options{addr: tc.addr, loops: 2, duration: 300 * time.Millisecond,
				path: tc.path, size: tc.size, sources: tc.sources}
			s, err := run(t.Context(), o, tc.ca)
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantOK && (s.OK == 0 || s.Errors != 0) {
				t.Fatalf("%d ok, %d errors (first %v)", s.OK, s.Errors, s.FirstErr)
			}
			if !tc.wantOK && (s.OK != 0 || s.Errors == 0) {
				t.Fatalf("%d ok, %d errors, want only errors", s.OK, s.Errors)
			}
			if len(s.Extra) != 1 || s.Extra[0] != (loadstat.Counter{Name: "resumed"}) {
				t.Errorf("extra %+v", s.Extra)
			}
		})
	}
}

func TestRunBadOptions(t *testing.T) {
	for _, o := range []options{
		{addr: "127.0.0.1:1", loops: 0, duration: time.Second},
		{addr: "no-port", loops: 1, duration: time.Second},
	} {
		if _, err := run(t.Context(), o, ""); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}
