package jwtauth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"

	"github.com/bouncer-proxy/bouncer/l7"
)

// fixture holds keys made once per test binary (RSA generation is slow
// under -race).
type fixture struct {
	rsa      *rsa.PrivateKey
	p256     *ecdsa.PrivateKey
	p384     *ecdsa.PrivateKey
	p521     *ecdsa.PrivateKey
	ed       ed25519.PrivateKey
	stranger *ecdsa.PrivateKey // in no key set
}

var keys = sync.OnceValue(func() fixture {
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	var f fixture
	var err error
	f.rsa, err = rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	for _, k := range []struct {
		dst   **ecdsa.PrivateKey
		curve elliptic.Curve
	}{{&f.p256, elliptic.P256()}, {&f.p384, elliptic.P384()}, {&f.p521, elliptic.P521()}, {&f.stranger, elliptic.P256()}} {
		*k.dst, err = ecdsa.GenerateKey(k.curve, rand.Reader)
		must(err)
	}
	_, f.ed, err = ed25519.GenerateKey(rand.Reader)
	must(err)
	return f
})

// publicJWKs is the JWKS of the fixture's keys, each with a kid.
func publicJWKs() []jose.JSONWebKey {
	f := keys()
	return []jose.JSONWebKey{
		jwk(f.rsa.Public(), "rsa", ""),
		jwk(f.p256.Public(), "p256", "ES256"),
		jwk(f.p384.Public(), "p384", ""),
		jwk(f.p521.Public(), "p521", ""),
		jwk(f.ed.Public(), "ed", ""),
	}
}

func jwk(key any, kid, alg string) jose.JSONWebKey {
	return jose.JSONWebKey{Key: key, KeyID: kid, Algorithm: alg, Use: "sig"}
}

// jwksServer serves a swappable JWKS document on loopback and counts
// fetches.
type jwksServer struct {
	*httptest.Server
	fetches atomic.Int32
	doc     atomic.Pointer[[]byte]
	status  atomic.Int32 // 0 serves the document
}

func newJWKSServer(t testing.TB, set ...jose.JSONWebKey) *jwksServer {
	s := &jwksServer{}
	s.set(t, set...)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		if st := s.status.Load(); st != 0 {
			w.WriteHeader(int(st))
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Write(*s.doc.Load())
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(t testing.TB, set ...jose.JSONWebKey) {
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: set})
	if err != nil {
		t.Fatal(err)
	}
	s.doc.Store(&b)
}

func newKeySets(t testing.TB) *KeySets {
	ks := NewKeySets(nil, nil)
	t.Cleanup(ks.Close)
	return ks
}

func newVerifier(t testing.TB, o Options, ks *KeySets) *Verifier {
	t.Helper()
	v, err := New(o, ks)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(v.Close)
	return v
}

// claims are valid claims for the test issuer and audience.
func claims(extra jwt.MapClaims) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{
		"sub": "alice", "iss": "https://issuer.test", "aud": "api",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	return c
}

func sign(t testing.TB, m jwt.SigningMethod, key any, kid string, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return s
}

func bearer(tok string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return r
}

// wantAuthError checks err is an *l7.AuthError with code and reason.
func wantAuthError(t testing.TB, err error, code, reason string) {
	t.Helper()
	var ae *l7.AuthError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v: want *l7.AuthError %q", err, reason)
	}
	if ae.Scheme != "Bearer" || ae.Code != code || ae.Reason != reason {
		t.Fatalf("got scheme %q code %q reason %q (%v), want Bearer %q %q", ae.Scheme, ae.Code, ae.Reason, ae.Cause, code, reason)
	}
}

// writePEM writes keys' public halves as PKIX PEM to a temp file.
func writePEM(t testing.TB, pubs ...any) string {
	t.Helper()
	var out []byte
	for _, p := range pubs {
		der, err := x509.MarshalPKIXPublicKey(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})...)
	}
	return writeFile(t, "keys.pem", out)
}

func writeFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// fakeClock is a settable time for the on-demand fetch pacing.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Now().UnixNano())
	return c
}

func (c *fakeClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// poll calls cond until it holds or the deadline passes.
func poll(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
