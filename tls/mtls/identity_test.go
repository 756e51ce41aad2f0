package mtls

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"net/url"
	"slices"
	"testing"

	"github.com/bouncer-proxy/bouncer/tls/certstest"
)

// handshakeWith runs one real handshake in which the client presents cert
// to a server with the given client auth type and trusted CA file.
func handshakeWith(t *testing.T, auth tls.ClientAuthType, caFile string, cert tls.Certificate) *tls.ConnectionState {
	t.Helper()
	serverCA := certstest.NewCA(t)
	cfg := &tls.Config{Certificates: []tls.Certificate{serverCA.TLSCert(t, "localhost")}, ClientAuth: auth}
	pool, err := LoadPool([]string{caFile})
	if err != nil {
		t.Fatal(err)
	}
	cfg.ClientCAs = pool
	addr, result := serve(t, cfg)
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: serverCA.Pool, ServerName: "localhost", Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	got := <-result
	if got.err != nil {
		t.Fatal(got.err)
	}
	return got.state
}

func TestFromState(t *testing.T) {
	ca := newClientCA(t, t.TempDir(), "id")
	cert := ca.issue(t, leafSpec{
		cn: "billing", org: "Example, Inc.",
		dns:    []string{"billing.internal", "billing.example.com"},
		uris:   []string{"spiffe://example.org/ns/prod/sa/billing", "https://example.org/billing"},
		emails: []string{"ops@example.org"},
		ips:    []string{"10.1.2.3", "2001:db8::1"},
	})
	st := handshakeWith(t, tls.RequireAndVerifyClientCert, ca.file, cert)
	id, ok := FromState(st)
	if !ok {
		t.Fatal("no identity from a verified connection")
	}
	sum := sha256.Sum256(cert.Certificate[0])
	checks := []struct {
		field     string
		got, want any
	}{
		{"Subject", id.Subject, `CN=billing,O=Example\, Inc.`},
		{"Issuer", id.Issuer, "CN=id CA"},
		{"DNSNames", id.DNSNames, []string{"billing.internal", "billing.example.com"}},
		{"URIs", id.URIs, []string{"spiffe://example.org/ns/prod/sa/billing", "https://example.org/billing"}},
		{"Emails", id.Emails, []string{"ops@example.org"}},
		{"IPs", id.IPs, []string{"10.1.2.3", "2001:db8::1"}},
		{"SPIFFEID", id.SPIFFEID, "spiffe://example.org/ns/prod/sa/billing"},
		{"FingerprintSHA256", id.FingerprintSHA256, hex.EncodeToString(sum[:])},
		{"Serial", id.Serial, cert.Leaf.SerialNumber.Text(16)},
		{"NotAfter", id.NotAfter.Unix(), cert.Leaf.NotAfter.Unix()},
		{"Chain", len(id.Chain), 1},
	}
	for _, c := range checks {
		if !equalAny(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.field, c.got, c.want)
		}
	}
}

func equalAny(a, b any) bool {
	if as, ok := a.([]string); ok {
		bs, _ := b.([]string)
		return slices.Equal(as, bs)
	}
	return a == b
}

// TestFromStateUnverified: a certificate the server asked for but did not
// verify gives no identity, even though PeerCertificates holds it.
func TestFromStateUnverified(t *testing.T) {
	ca := newClientCA(t, t.TempDir(), "id")
	st := handshakeWith(t, tls.RequestClientCert, ca.file, ca.issue(t, leafSpec{cn: "x"}))
	if len(st.PeerCertificates) == 0 {
		t.Fatal("the client sent no certificate")
	}
	if id, ok := FromState(st); ok || id != nil || Verified(st) {
		t.Errorf("FromState = %+v, %v", id, ok)
	}
	if _, ok := FromState(nil); ok {
		t.Error("identity from a nil state")
	}
}

func TestValidSPIFFEID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"spiffe://example.org/workload", true},
		{"spiffe://example.org/ns/prod/sa/billing", true},
		{"spiffe://my-td_1.example/A.b-c_d", true},
		{"spiffe://example.org", false},               // no path
		{"spiffe://example.org/", false},              // root path
		{"spiffe://Example.org/w", false},             // uppercase trust domain
		{"spiffe://example.org:8443/w", false},        // port
		{"spiffe://user@example.org/w", false},        // user info
		{"spiffe://example.org/w?x=1", false},         // query
		{"spiffe://example.org/w#frag", false},        // fragment
		{"spiffe://example.org/a//b", false},          // empty segment
		{"spiffe://example.org/a/", false},            // trailing slash
		{"spiffe://example.org/a/../b", false},        // dot segment
		{"spiffe://example.org/./b", false},           // dot segment
		{"spiffe://example.org/a%20b", false},         // percent-encoding
		{"spiffe:///w", false},                        // no trust domain
		{"spiffe:example.org/w", false},               // opaque
		{"https://example.org/w", false},              // other scheme
		{"spiffe://example.org/" + long(2100), false}, // too long
	}
	for _, tt := range tests {
		if got := ValidSPIFFEID(tt.id); got != tt.want {
			t.Errorf("ValidSPIFFEID(%q) = %v, want %v", tt.id, got, tt.want)
		}
	}
}

func long(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a'
	}
	return string(b)
}

// TestSPIFFEIDFromCert reads the SPIFFE ID from the URI SANs of real
// certificates.
func TestSPIFFEIDFromCert(t *testing.T) {
	ca := newClientCA(t, t.TempDir(), "spiffe")
	tests := []struct {
		name string
		uris []string
		want string
	}{
		{"one valid", []string{"spiffe://example.org/w"}, "spiffe://example.org/w"},
		{"with another scheme", []string{"https://a.example/x", "spiffe://example.org/w"}, "spiffe://example.org/w"},
		{"two spiffe", []string{"spiffe://example.org/a", "spiffe://example.org/b"}, ""},
		{"invalid one", []string{"spiffe://EXAMPLE.org/w"}, ""},
		{"uppercase scheme", []string{"SPIFFE://example.org/w"}, "spiffe://example.org/w"},
		{"none", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cert := ca.issue(t, leafSpec{cn: "w", uris: tt.uris})
			if got := FromCert(cert.Leaf).SPIFFEID; got != tt.want {
				t.Errorf("SPIFFEID = %q, want %q", got, tt.want)
			}
		})
	}
	u, _ := url.Parse("spiffe://example.org/x")
	if spiffeID([]*url.URL{u, u}) != "" {
		t.Error("a repeated SPIFFE ID was accepted")
	}
}
