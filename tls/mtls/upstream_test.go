package mtls

import (
	"crypto/tls"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bouncer-proxy/bouncer/tls/certstest"
)

// upstreamServer is a TLS server that requires client certificates of
// clientCA and serves a certificate for "upstream.internal".
func upstreamServer(t *testing.T, clientCA *clientCA) (addr, caFile string, result <-chan handshake) {
	t.Helper()
	dir := t.TempDir()
	serverCA := certstest.NewCA(t)
	caFile = filepath.Join(dir, "server-ca.pem")
	certstest.WriteFile(t, caFile, pemCert(serverCA.Cert.Raw))
	cfg := &tls.Config{Certificates: []tls.Certificate{serverCA.TLSCert(t, "upstream.internal")}}
	if err := (ClientAuth{Mode: ModeRequire, CAFiles: []string{clientCA.file}}).Apply(cfg); err != nil {
		t.Fatal(err)
	}
	addr, result = serve(t, cfg)
	return addr, caFile, result
}

// dial handshakes with cfg and returns the client error and what the
// server saw.
func dial(t *testing.T, addr string, cfg *tls.Config, result <-chan handshake) (handshake, error) {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		return <-result, err // the server's side of a failed handshake fails too
	}
	defer conn.Close()
	return <-result, nil
}

func TestUpstreamMTLS(t *testing.T) {
	dir := t.TempDir()
	trusted := newClientCA(t, dir, "trusted")
	stranger := newClientCA(t, dir, "stranger")
	goodCert, goodKey := writePair(t, dir, "good", trusted.issue(t, leafSpec{cn: "bouncer"}))
	badCert, badKey := writePair(t, dir, "bad", stranger.issue(t, leafSpec{cn: "impostor"}))
	addr, serverCAFile, result := upstreamServer(t, trusted)

	tests := []struct {
		name       string
		u          UpstreamTLS
		wantClient bool // client side handshake succeeds
		wantServer bool // server accepts the client
	}{
		{"with cert", UpstreamTLS{ServerName: "upstream.internal", CAFiles: []string{serverCAFile}, CertFile: goodCert, KeyFile: goodKey}, true, true},
		{"without cert", UpstreamTLS{ServerName: "upstream.internal", CAFiles: []string{serverCAFile}}, true, false},
		{"cert of another CA", UpstreamTLS{ServerName: "upstream.internal", CAFiles: []string{serverCAFile}, CertFile: badCert, KeyFile: badKey}, true, false},
		{"system roots do not know the server", UpstreamTLS{ServerName: "upstream.internal", CertFile: goodCert, KeyFile: goodKey}, false, false},
		{"wrong CA for the server", UpstreamTLS{ServerName: "upstream.internal", CAFiles: []string{trusted.file}, CertFile: goodCert, KeyFile: goodKey}, false, false},
		{"wrong server name", UpstreamTLS{ServerName: "other.internal", CAFiles: []string{serverCAFile}, CertFile: goodCert, KeyFile: goodKey}, false, false},
		{"insecure skip verify", UpstreamTLS{ServerName: "upstream.internal", InsecureSkipVerify: true, CertFile: goodCert, KeyFile: goodKey}, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := tt.u.Config()
			if err != nil {
				t.Fatal(err)
			}
			server, clientErr := dial(t, addr, cfg, result)
			if (clientErr == nil) != tt.wantClient {
				t.Errorf("client error %v, want success %v", clientErr, tt.wantClient)
			}
			if (server.err == nil) != tt.wantServer {
				t.Fatalf("server error %v, want success %v", server.err, tt.wantServer)
			}
			if !tt.wantServer {
				return
			}
			if server.state.ServerName != tt.u.ServerName {
				t.Errorf("server saw SNI %q, want %q", server.state.ServerName, tt.u.ServerName)
			}
			if id, _ := FromState(server.state); id == nil || id.Subject != "CN=bouncer" {
				t.Errorf("server saw identity %+v", id)
			}
		})
	}
}

func TestUpstreamConfigDefaults(t *testing.T) {
	cfg, err := UpstreamTLS{}.Config()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.InsecureSkipVerify || cfg.MinVersion != tls.VersionTLS12 || cfg.RootCAs != nil || cfg.GetClientCertificate != nil {
		t.Errorf("defaults: %+v", cfg)
	}
	cfg, err = UpstreamTLS{MinVersion: tls.VersionTLS13}.Config()
	if err != nil || cfg.MinVersion != tls.VersionTLS13 {
		t.Errorf("min version 1.3: %v, %v", cfg, err)
	}
}

func TestUpstreamConfigErrors(t *testing.T) {
	dir := t.TempDir()
	ca := newClientCA(t, dir, "ca")
	certA, keyA := writePair(t, dir, "a", ca.issue(t, leafSpec{cn: "a"}))
	_, keyB := writePair(t, dir, "b", ca.issue(t, leafSpec{cn: "b"}))
	tests := []struct {
		name string
		u    UpstreamTLS
		want string
	}{
		{"cert without key", UpstreamTLS{CertFile: certA}, "go together"},
		{"key without cert", UpstreamTLS{KeyFile: keyA}, "go together"},
		{"insecure with CAs", UpstreamTLS{InsecureSkipVerify: true, CAFiles: []string{ca.file}}, "both set"},
		{"unknown version", UpstreamTLS{MinVersion: 0x0305}, "unknown min version"},
		{"bad CA file", UpstreamTLS{CAFiles: []string{keyA}}, keyA},
		{"mismatched pair", UpstreamTLS{CertFile: certA, KeyFile: keyB}, certA},
		{"missing key", UpstreamTLS{CertFile: certA, KeyFile: filepath.Join(dir, "none.key")}, "none.key"},
	}
	for _, tt := range tests {
		if _, err := tt.u.Config(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one mentioning %q", tt.name, err, tt.want)
		}
	}
}

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestUpstreamCertRotation replaces the client certificate files between
// handshakes and checks which certificate the server sees.
func TestUpstreamCertRotation(t *testing.T) {
	dir := t.TempDir()
	ca := newClientCA(t, dir, "rot")
	addr, serverCAFile, result := upstreamServer(t, ca)
	v1 := ca.issue(t, leafSpec{cn: "v1"})
	certFile, keyFile := writePair(t, dir, "client", v1)
	clock := &fakeClock{now: time.Now()}
	cfg, err := UpstreamTLS{ServerName: "upstream.internal", CAFiles: []string{serverCAFile},
		CertFile: certFile, KeyFile: keyFile}.config(clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	seen := func(step string, want string) {
		t.Helper()
		server, _ := dial(t, addr, cfg, result)
		if server.err != nil {
			t.Fatalf("%s: server refused: %v", step, server.err)
		}
		if got := server.state.PeerCertificates[0].Subject.CommonName; got != want {
			t.Fatalf("%s: server saw %q, want %q", step, got, want)
		}
	}
	seen("initial", "v1")

	v2 := ca.issue(t, leafSpec{cn: "v2"})
	writePair(t, dir, "client", v2)
	clock.Advance(reloadEvery / 2)
	seen("within a second of the last check", "v1")
	clock.Advance(reloadEvery)
	seen("after a second", "v2")

	// A half-done rotation (v3's certificate beside v2's key) fails to load:
	// v2 stays until the files change again.
	v3 := ca.issue(t, leafSpec{cn: "v3"})
	certstest.WriteFile(t, certFile, pemCert(v3.Certificate[0]))
	clock.Advance(reloadEvery)
	seen("mismatched pair", "v2")
	writePair(t, dir, "client", v3)
	clock.Advance(reloadEvery)
	seen("pair completed", "v3")
}

// TestUpstreamCertRotationRealClock checks Config's own clock picks up a
// rotation, polling for at most a few seconds.
func TestUpstreamCertRotationRealClock(t *testing.T) {
	dir := t.TempDir()
	ca := newClientCA(t, dir, "real")
	addr, serverCAFile, result := upstreamServer(t, ca)
	certFile, keyFile := writePair(t, dir, "client", ca.issue(t, leafSpec{cn: "old"}))
	cfg, err := UpstreamTLS{ServerName: "upstream.internal", CAFiles: []string{serverCAFile},
		CertFile: certFile, KeyFile: keyFile}.Config()
	if err != nil {
		t.Fatal(err)
	}
	writePair(t, dir, "client", ca.issue(t, leafSpec{cn: "new"}))
	deadline := time.Now().Add(5 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		server, _ := dial(t, addr, cfg, result)
		if server.err != nil {
			t.Fatal(server.err)
		}
		if server.state.PeerCertificates[0].Subject.CommonName == "new" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the rotated certificate was not picked up within 5s")
		}
		<-tick.C
	}
}
