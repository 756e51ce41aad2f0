package policy

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/bouncer-proxy/bouncer/configs"
	"github.com/bouncer-proxy/bouncer/l7"
	"github.com/bouncer-proxy/bouncer/tls/certstest"
	"github.com/bouncer-proxy/bouncer/tls/mtls"
)

// The mtls policy maps a verified client certificate to a consumer by
// SPIFFE ID, subject or fingerprint; an unlisted one is refused (403)
// unless allow_unlisted; a connection without one has no credential.
func TestMTLSAuth(t *testing.T) {
	ca := certstest.NewCA(t)
	billing := ca.ClientCert(t, "billing", "spiffe://example.test/billing")
	other := ca.ClientCert(t, "other")
	leaf := func(c tls.Certificate) *x509.Certificate {
		x, err := x509.ParseCertificate(c.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	otherID := mtls.FromCert(leaf(other))
	set := buildSet(t, map[string]configs.Policy{
		"strict": {MTLS: &configs.MTLSAuthPolicy{Consumers: []configs.MTLSConsumer{
			{Name: "billing-svc", SPIFFEID: "spiffe://example.test/billing", Metadata: map[string]string{"team": "pay"}},
		}}},
		"by-sha": {MTLS: &configs.MTLSAuthPolicy{Consumers: []configs.MTLSConsumer{{Name: "o", SHA256: otherID.FingerprintSHA256}}}},
		"any":    {MTLS: &configs.MTLSAuthPolicy{Unlisted: true}},
	})
	var seen *l7.Identity
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = l7.InfoFrom(r.Context()).Identity })
	call := func(policy string, cert *tls.Certificate) int {
		seen = nil
		r := httptest.NewRequest("GET", "/", nil)
		info := &l7.Info{}
		if cert != nil {
			x := leaf(*cert)
			r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{x}, VerifiedChains: [][]*x509.Certificate{{x}}}
			info.ClientCert, _ = mtls.FromState(r.TLS)
		}
		r = r.WithContext(l7.WithInfo(r.Context(), info))
		w := httptest.NewRecorder()
		set.Chain([]string{policy}, ok).ServeHTTP(w, r)
		return w.Code
	}
	if code := call("strict", &billing); code != 200 || seen == nil || seen.Consumer != "billing-svc" || seen.Metadata["team"] != "pay" || seen.Method != "mtls" {
		t.Fatalf("listed SPIFFE ID: %d %+v", code, seen)
	}
	if code := call("strict", &other); code != 403 {
		t.Fatalf("unlisted certificate: %d, want 403", code)
	}
	if code := call("by-sha", &other); code != 200 || seen.Consumer != "o" {
		t.Fatalf("by fingerprint: %d %+v", code, seen)
	}
	if code := call("any", &other); code != 200 || seen.Consumer != otherID.Subject {
		t.Fatalf("allow_unlisted: %d %+v, want the subject as consumer", code, seen)
	}
	if code := call("strict", nil); code != 401 {
		t.Fatalf("no certificate: %d, want 401", code)
	}
}
