package l7

import (
	"crypto/tls"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bouncer-proxy/bouncer/tls/certs"
	"github.com/bouncer-proxy/bouncer/tls/certstest"
)

// fakeACME is a CertSource that covers no name and counts the handshakes
// it is asked to answer.
type fakeACME struct {
	cert  *tls.Certificate
	calls atomic.Int32
}

func (f *fakeACME) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	f.calls.Add(1)
	return f.cert, nil
}

func (f *fakeACME) Covers(string) bool { return false }

var _ CertSource = (*fakeACME)(nil)

// Only a hello whose sole protocol is acme-tls/1 is an ACME challenge
// (RFC 8737, section 3). One that lists it beside others gets the
// certificate its name selects, strict_sni included, and a challenge
// hello without SNI is refused without asking the ACME manager.
func TestCertPickerACMEChallengeOnlyByItself(t *testing.T) {
	ca := certstest.NewCA(t)
	dir := t.TempDir()
	a := ca.Leaf(t, dir, "a", "ecdsa", "a", "a.test")
	acmeCert := ca.TLSCert(t, "a.test", "other.test")
	for _, strict := range []bool{false, true} {
		store, err := certs.New([]certs.Pair{{CertFile: a.CertFile, KeyFile: a.KeyFile}}, strict)
		if err != nil {
			t.Fatal(err)
		}
		acme := &fakeACME{cert: &acmeCert}
		pick := &certPicker{static: store, acme: acme, strict: strict}
		addr := serveTLSHandshakes(t, &tls.Config{GetCertificate: pick.GetCertificate, NextProtos: []string{"h2", "http/1.1", acmeTLSALPN}})
		for _, c := range []struct {
			sni    string
			protos []string
			cn     string // "" : the handshake fails
			acme   bool   // the ACME source was asked
		}{
			{"a.test", []string{"h2", acmeTLSALPN}, "a", false},
			{"a.test", []string{acmeTLSALPN, "http/1.1"}, "a", false},
			{"a.test", []string{acmeTLSALPN}, "test server", true},
			{"", []string{acmeTLSALPN}, "", false},
			{"other.test", []string{"http/1.1", acmeTLSALPN}, map[bool]string{false: "a", true: ""}[strict], false},
		} {
			before := acme.calls.Load()
			cn, err := handshakeCN(addr, c.sni, c.protos)
			switch {
			case c.cn == "" && err == nil:
				t.Errorf("strict=%v sni=%q alpn=%v: handshake succeeded with %q, want it refused", strict, c.sni, c.protos, cn)
			case c.cn != "" && (err != nil || cn != c.cn):
				t.Errorf("strict=%v sni=%q alpn=%v: certificate %q (%v), want %q", strict, c.sni, c.protos, cn, err, c.cn)
			}
			if asked := acme.calls.Load() > before; asked != c.acme {
				t.Errorf("strict=%v sni=%q alpn=%v: ACME source asked %v, want %v", strict, c.sni, c.protos, asked, c.acme)
			}
		}
	}
}

// serveTLSHandshakes accepts connections on loopback and completes their
// TLS handshakes with tc until the test ends.
func serveTLSHandshakes(t *testing.T, tc *tls.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			tc := tls.Server(c, tc)
			_ = tc.SetDeadline(time.Now().Add(5 * time.Second))
			_ = tc.Handshake()
			_ = tc.Close()
		}
	}()
	return ln.Addr().String()
}

// handshakeCN dials addr with sni and ALPN protos and returns the
// commonName of the certificate served.
func handshakeCN(addr, sni string, protos []string) (string, error) {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{
		ServerName: sni, NextProtos: protos,
		InsecureSkipVerify: true, // the default certificate is served for names it does not cover
	})
	if err != nil {
		return "", err
	}
	defer c.Close()
	peers := c.ConnectionState().PeerCertificates
	if len(peers) == 0 {
		return "", errors.New("no certificate")
	}
	return peers[0].Subject.CommonName, nil
}
