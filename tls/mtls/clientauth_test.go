package mtls

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bouncer-proxy/bouncer/tls/certstest"
)

func TestApplyErrors(t *testing.T) {
	dir := t.TempDir()
	ca := newClientCA(t, dir, "good")
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		certstest.WriteFile(t, p, []byte(content))
		return p
	}
	empty := write("empty.pem", "")
	garbage := write("garbage.pem", "this is not pem\n")
	good, _ := os.ReadFile(ca.file)
	trailing := write("trailing.pem", string(good)+"-----BEGIN CERT")
	keyOnly := write("key.pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
	badDER := write("bad-der.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
	missing := filepath.Join(dir, "missing.pem")

	tests := []struct {
		name string
		ca   ClientAuth
		want []string // substrings of the error
	}{
		{"unknown mode", ClientAuth{Mode: "maybe", CAFiles: []string{ca.file}}, []string{`"maybe"`}},
		{"empty mode", ClientAuth{CAFiles: []string{ca.file}}, []string{`mode ""`}},
		{"require without CAs", ClientAuth{Mode: ModeRequire}, []string{"needs ca_files"}},
		{"none with CAs", ClientAuth{Mode: ModeNone, CAFiles: []string{ca.file}}, []string{"takes no ca_files"}},
		{"missing file", ClientAuth{Mode: ModeRequire, CAFiles: []string{missing}}, []string{missing, "no such file"}},
		{"empty file", ClientAuth{Mode: ModeOptional, CAFiles: []string{ca.file, empty}}, []string{empty, "no certificates in it"}},
		{"not PEM", ClientAuth{Mode: ModeRequire, CAFiles: []string{garbage}}, []string{garbage, "bad PEM"}},
		{"garbage after a certificate", ClientAuth{Mode: ModeRequire, CAFiles: []string{trailing}}, []string{trailing, "bad PEM after certificate 1"}},
		{"private key", ClientAuth{Mode: ModeRequire, CAFiles: []string{keyOnly}}, []string{keyOnly, "PRIVATE KEY, not a CERTIFICATE"}},
		{"bad DER", ClientAuth{Mode: ModeRequire, CAFiles: []string{badDER}}, []string{badDER, "certificate 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &tls.Config{}
			err := tt.ca.Apply(cfg)
			if err == nil {
				t.Fatal("Apply succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if cfg.ClientAuth != tls.NoClientCert || cfg.ClientCAs != nil {
				t.Errorf("failed Apply changed the config: %v", cfg.ClientAuth)
			}
		})
	}
}

func TestApplyModes(t *testing.T) {
	dir := t.TempDir()
	ca := newClientCA(t, dir, "a")
	other := newClientCA(t, dir, "b")
	tests := []struct {
		mode string
		want tls.ClientAuthType
	}{
		{ModeRequire, tls.RequireAndVerifyClientCert},
		{ModeOptional, tls.VerifyClientCertIfGiven},
	}
	for _, tt := range tests {
		cfg := &tls.Config{}
		if err := (ClientAuth{Mode: tt.mode, CAFiles: []string{ca.file, other.file}}).Apply(cfg); err != nil {
			t.Fatal(err)
		}
		if cfg.ClientAuth != tt.want || cfg.ClientCAs == nil {
			t.Errorf("%s: ClientAuth %v, ClientCAs %v", tt.mode, cfg.ClientAuth, cfg.ClientCAs)
		}
	}
	cfg := &tls.Config{ClientAuth: tls.RequireAnyClientCert}
	if err := (ClientAuth{Mode: ModeNone}).Apply(cfg); err != nil || cfg.ClientAuth != tls.NoClientCert {
		t.Errorf("none: %v, %v", cfg.ClientAuth, err)
	}
}

// TestClientAuthHandshake runs real handshakes on loopback against a server
// configured by Apply.
func TestClientAuthHandshake(t *testing.T) {
	dir := t.TempDir()
	serverCA := certstest.NewCA(t)
	serverCert := serverCA.TLSCert(t, "localhost")
	trusted := newClientCA(t, dir, "trusted")
	stranger := newClientCA(t, dir, "stranger")
	good := trusted.issue(t, leafSpec{cn: "good client"})
	foreign := stranger.issue(t, leafSpec{cn: "foreign client"})

	tests := []struct {
		name         string
		mode         string
		client       *tls.Certificate
		wantAccept   bool
		wantVerified bool
	}{
		{"require, no cert", ModeRequire, nil, false, false},
		{"require, other CA", ModeRequire, &foreign, false, false},
		{"require, trusted", ModeRequire, &good, true, true},
		{"optional, no cert", ModeOptional, nil, true, false},
		{"optional, other CA", ModeOptional, &foreign, false, false},
		{"optional, trusted", ModeOptional, &good, true, true},
		{"none, trusted cert not asked for", ModeNone, &good, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &tls.Config{Certificates: []tls.Certificate{serverCert}}
			ca := ClientAuth{Mode: tt.mode}
			if tt.mode != ModeNone {
				ca.CAFiles = []string{trusted.file}
			}
			if err := ca.Apply(cfg); err != nil {
				t.Fatal(err)
			}
			addr, result := serve(t, cfg)
			// GetClientCertificate sends the certificate even when the server
			// names other CAs (Go's client would otherwise send none).
			conn, err := tls.Dial("tcp", addr, &tls.Config{
				RootCAs: serverCA.Pool, ServerName: "localhost",
				GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
					if tt.client == nil {
						return &tls.Certificate{}, nil
					}
					return tt.client, nil
				},
			})
			if err == nil {
				defer conn.Close()
			}
			got := <-result
			if accepted := got.err == nil; accepted != tt.wantAccept {
				t.Fatalf("accepted %v, want %v (server error %v)", accepted, tt.wantAccept, got.err)
			}
			if !tt.wantAccept {
				return
			}
			if v := Verified(got.state); v != tt.wantVerified {
				t.Errorf("Verified = %v, want %v", v, tt.wantVerified)
			}
			id, ok := FromState(got.state)
			if ok != tt.wantVerified || (ok && !strings.Contains(id.Subject, "good client")) {
				t.Errorf("FromState = %+v, %v", id, ok)
			}
		})
	}
	if Verified(nil) {
		t.Error("Verified(nil) is true")
	}
}
