package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go/http3"
)

var handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/64" {
		http.NotFound(w, r)
		return
	}
	w.Write([]byte(strings.Repeat("x", 64)))
})

// newCert makes a self-signed ECDSA certificate for 127.0.0.1 and writes it
// to a PEM file.
func newCert(t *testing.T) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, ca
}

// startH3 serves handler over HTTP/3 on a UDP port of 127.0.0.1.
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

// startH2 serves handler over h2 and TLS.
func startH2(t *testing.T, cert tls.Certificate) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(handler)
	srv.EnableHTTP2 = true
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "https://")
}

func TestRun(t *testing.T) {
	cert, ca := newCert(t)
	h3addr, h2addr := startH3(t, cert), startH2(t, cert)
	tests := []struct {
		name    string
		addr    string
		h2      bool
		ca      string
		size    int
		wantErr bool
	}{
		{"h3", h3addr, false, "", 64, false},
		{"h3 verified", h3addr, false, ca, 64, false},
		{"h2", h2addr, true, ca, 64, false},
		{"h3 wrong size", h3addr, false, "", 65, true},
		{"h2 wrong size", h2addr, true, "", 65, true},
		{"h2 to an h3 port", h3addr, true, "", 64, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := options{addr: tc.addr, path: "/64", caFile: tc.ca, conns: 2, streams: 3,
				size: tc.size, duration: 300 * time.Millisecond, h2: tc.h2}
			s, err := run(t.Context(), o)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("no error; %d ok, %d errors", s.OK, s.Errors)
				}
				return
			}
			if err != nil || s.OK == 0 || s.Errors != 0 {
				t.Fatalf("err %v; %d ok, %d errors (first %v)", err, s.OK, s.Errors, s.FirstErr)
			}
		})
	}
}

func TestRunBadOptions(t *testing.T) {
	for _, o := range []options{
		{addr: "127.0.0.1:1", conns: 0, streams: 1, duration: time.Second},
		{addr: "127.0.0.1:1", conns: 1, streams: 1, duration: time.Second, caFile: "/nonexistent"},
	} {
		if _, err := run(t.Context(), o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}
