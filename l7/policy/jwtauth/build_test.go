package jwtauth

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
)

func TestNewErrors(t *testing.T) {
	f := keys()
	rsaPEM := writePEM(t, f.rsa.Public())
	privDER, err := x509.MarshalPKCS8PrivateKey(f.p256)
	if err != nil {
		t.Fatal(err)
	}
	privPEM := writeFile(t, "priv.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}))
	secret := []byte(strings.Repeat("s", 32))
	ks := newKeySets(t)
	neg := -time.Second
	cases := []struct {
		name string
		o    Options
		want string
	}{
		{"no keys", Options{}, "no keys"},
		{"secret with jwks", Options{Secret: secret, JWKSURL: "https://id.test/jwks"}, "cannot be combined"},
		{"secret with key file", Options{Secret: secret, KeyFiles: []string{rsaPEM}}, "cannot be combined"},
		{"short secret", Options{Secret: []byte("short")}, "need at least 32"},
		{"ftp url", Options{JWKSURL: "ftp://id.test/jwks"}, "http or https"},
		{"relative url", Options{JWKSURL: "/jwks"}, "http or https"},
		{"bad url", Options{JWKSURL: "http://[::1"}, "jwks_url"},
		{"missing file", Options{KeyFiles: []string{filepath.Join(t.TempDir(), "nope.pem")}}, "no such file"},
		{"private key file", Options{KeyFiles: []string{privPEM}}, "private key"},
		{"empty file", Options{KeyFiles: []string{writeFile(t, "e.pem", nil)}}, "no PEM public key"},
		{"bad jwks file", Options{KeyFiles: []string{writeFile(t, "k.json", []byte(`{"keys":[{"kty":"EC"}]}`))}}, "jwks key 0"},
		{"unknown alg", Options{JWKSURL: "https://id.test/jwks", Algorithms: []string{"RS257"}}, `"RS257"`},
		{"alg none", Options{JWKSURL: "https://id.test/jwks", Algorithms: []string{"none"}}, `"none"`},
		{"HS without secret", Options{JWKSURL: "https://id.test/jwks", Algorithms: []string{"HS256"}}, "needs a secret"},
		{"HS512 short secret", Options{Secret: secret, Algorithms: []string{"HS512"}}, "at least 64"},
		{"RS with secret", Options{Secret: secret, Algorithms: []string{"RS256"}}, "needs public keys"},
		{"alg no key verifies", Options{KeyFiles: []string{rsaPEM}, Algorithms: []string{"ES256"}}, "no key in key_files verifies ES256"},
		{"unknown source", Options{Secret: secret, Sources: []Source{{In: "body"}}}, "unknown source"},
		{"cookie without name", Options{Secret: secret, Sources: []Source{{In: InCookie}}}, "needs a name"},
		{"bad header name", Options{Secret: secret, Sources: []Source{{In: InHeader, Name: "x y"}}}, "not a valid field name"},
		{"prefix on query", Options{Secret: secret, Sources: []Source{{In: InQuery, Name: "t", Prefix: "Bearer"}}}, "only for header"},
		{"bad forward header", Options{Secret: secret, ClaimsToHeaders: map[string]string{"sub": "x user"}}, "not a valid header name"},
		{"reserved forward header", Options{Secret: secret, ClaimsToHeaders: map[string]string{"sub": "host"}}, "cannot be set"},
		{"empty claim", Options{Secret: secret, ClaimsToHeaders: map[string]string{"": "x-a"}}, "empty claim"},
		{"negative skew", Options{Secret: secret, ClockSkew: neg}, "clock_skew: negative"},
		{"empty issuer", Options{Secret: secret, Issuers: []string{""}}, "empty issuer"},
		{"empty audience", Options{Secret: secret, Audiences: []string{"api", ""}}, "empty audience"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, err := New(c.o, ks)
			if err == nil {
				v.Close()
				t.Fatalf("New succeeded, want error containing %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "jwtauth: ") {
				t.Fatalf("error %q, want it to contain %q", err, c.want)
			}
		})
	}
}

func TestNewNeedsKeySetsForJWKS(t *testing.T) {
	_, err := New(Options{JWKSURL: "https://id.test/jwks"}, nil)
	if err == nil || !strings.Contains(err.Error(), "no key set registry") {
		t.Fatalf("error %v, want one naming the missing registry", err)
	}
}

func TestNewReportsEveryProblem(t *testing.T) {
	_, err := New(Options{Secret: []byte("x"), JWKSURL: "ftp://x", Sources: []Source{{In: "body"}}}, nil)
	if err == nil {
		t.Fatal("New succeeded")
	}
	for _, want := range []string{"cannot be combined", "need at least 32", "http or https", "unknown source"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestKeyFiles(t *testing.T) {
	f := keys()
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&f.rsa.PublicKey)})
	jwksDoc, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{jwk(f.ed.Public(), "ed", ""), jwk(f.p384.Public(), "p384", "")}})
	if err != nil {
		t.Fatal(err)
	}
	single, err := json.Marshal(jwk(f.p256, "p256", "ES256")) // a private JWK: its public half is used
	if err != nil {
		t.Fatal(err)
	}
	files := []string{
		writePEM(t, f.p256.Public(), f.ed.Public()),
		writeFile(t, "rsa1.pem", pkcs1),
		writeFile(t, "cert.pem", selfSigned(t)),
		writeFile(t, "set.json", jwksDoc),
		writeFile(t, "one.jwk", single),
	}
	v := newVerifier(t, Options{KeyFiles: files}, nil)
	if got, want := strings.Join(v.Algorithms(), ","), "RS256,RS384,RS512,PS256,PS384,PS512,ES256,ES384,EdDSA"; got != want {
		t.Fatalf("default algorithms %s, want %s", got, want)
	}
	cases := []struct {
		name string
		tok  string
	}{
		{"pem p256, any kid", sign(t, jwt.SigningMethodES256, f.p256, "whatever", claims(nil))},
		{"pem ed25519, no kid", sign(t, jwt.SigningMethodEdDSA, f.ed, "", claims(nil))},
		{"pkcs1 rsa", sign(t, jwt.SigningMethodPS256, f.rsa, "", claims(nil))},
		{"jwks file kid", sign(t, jwt.SigningMethodES384, f.p384, "p384", claims(nil))},
		{"single jwk kid", sign(t, jwt.SigningMethodES256, f.p256, "p256", claims(nil))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := v.Authenticate(bearer(c.tok)); err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
		})
	}
	_, err = v.Authenticate(bearer(sign(t, jwt.SigningMethodES256, f.stranger, "", claims(nil))))
	wantAuthError(t, err, "invalid_token", "bad signature")
	_, err = v.Authenticate(bearer(sign(t, jwt.SigningMethodES512, f.p521, "", claims(nil))))
	wantAuthError(t, err, "invalid_token", "algorithm not allowed")
}

// selfSigned is a PEM certificate for the fixture's RSA key.
func selfSigned(t *testing.T) []byte {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, keys().rsa.Public(), keys().rsa)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
