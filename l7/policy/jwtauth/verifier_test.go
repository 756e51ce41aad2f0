package jwtauth

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// jwksVerifier is a verifier of the fixture's JWKS served on loopback,
// for the test issuer and audience.
func jwksVerifier(t *testing.T, edit func(*Options)) (*Verifier, *jwksServer) {
	t.Helper()
	srv := newJWKSServer(t, publicJWKs()...)
	o := Options{JWKSURL: srv.URL, Issuers: []string{"https://issuer.test"}, Audiences: []string{"api", "other"}}
	if edit != nil {
		edit(&o)
	}
	return newVerifier(t, o, newKeySets(t)), srv
}

func TestVerifyEveryAlgorithm(t *testing.T) {
	v, _ := jwksVerifier(t, nil)
	f := keys()
	cases := []struct {
		m   jwt.SigningMethod
		key any
		kid string
	}{
		{jwt.SigningMethodRS256, f.rsa, "rsa"},
		{jwt.SigningMethodRS384, f.rsa, "rsa"},
		{jwt.SigningMethodRS512, f.rsa, "rsa"},
		{jwt.SigningMethodPS256, f.rsa, "rsa"},
		{jwt.SigningMethodPS384, f.rsa, "rsa"},
		{jwt.SigningMethodPS512, f.rsa, "rsa"},
		{jwt.SigningMethodES256, f.p256, "p256"},
		{jwt.SigningMethodES384, f.p384, "p384"},
		{jwt.SigningMethodES512, f.p521, "p521"},
		{jwt.SigningMethodEdDSA, f.ed, "ed"},
		{jwt.SigningMethodES256, f.p256, ""}, // no kid: keys of the type are tried
		{jwt.SigningMethodRS256, f.rsa, ""},
	}
	for _, c := range cases {
		t.Run(c.m.Alg()+"/"+c.kid, func(t *testing.T) {
			id, err := v.Authenticate(bearer(sign(t, c.m, c.key, c.kid, claims(nil))))
			if err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
			if id.Method != "jwt" || id.Subject != "alice" || id.Consumer != "alice" || id.Claims["iss"] != "https://issuer.test" {
				t.Fatalf("identity %+v", id)
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	v, _ := jwksVerifier(t, func(o *Options) { o.MinRefreshInterval = time.Hour })
	f := keys()
	now := time.Now()
	es := func(c jwt.MapClaims) string { return sign(t, jwt.SigningMethodES256, f.p256, "p256", claims(c)) }
	good := es(nil)
	parts := strings.Split(good, ".")
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"mallory","exp":9999999999}`)) + "." + parts[2]
	noneTok := sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", claims(nil))
	cases := []struct {
		name, token, reason string
	}{
		{"expired", es(jwt.MapClaims{"exp": now.Add(-time.Minute).Unix()}), "token expired"},
		{"nbf in future", es(jwt.MapClaims{"nbf": now.Add(time.Minute).Unix()}), "token not yet valid"},
		{"iat in future", es(jwt.MapClaims{"iat": now.Add(time.Minute).Unix()}), "token not yet valid"},
		{"no exp", es(jwt.MapClaims{"exp": nil}), "token has no expiry"},
		{"exp not a number", es(jwt.MapClaims{"exp": "soon"}), "malformed token"},
		{"wrong audience", es(jwt.MapClaims{"aud": "else"}), "wrong audience"},
		{"no audience", es(jwt.MapClaims{"aud": nil}), "wrong audience"},
		{"wrong issuer", es(jwt.MapClaims{"iss": "https://evil.test"}), "wrong issuer"},
		{"no issuer", es(jwt.MapClaims{"iss": nil}), "wrong issuer"},
		{"tampered payload", tampered, "bad signature"},
		{"signed by another key", sign(t, jwt.SigningMethodES256, f.stranger, "p256", claims(nil)), "bad signature"},
		{"alg none", noneTok, "algorithm not allowed"},
		{"unknown alg", fakeAlg("XX999"), "algorithm not allowed"},
		{"alg unfit for kid", sign(t, jwt.SigningMethodES256, f.p256, "rsa", claims(nil)), "algorithm not allowed"},
		{"jwk alg pins ES256", sign(t, jwt.SigningMethodES384, f.p384, "p256", claims(nil)), "algorithm not allowed"},
		{"HS256 not allowed", sign(t, jwt.SigningMethodHS256, []byte(strings.Repeat("k", 32)), "", claims(nil)), "algorithm not allowed"},
		{"not a jwt", "abc", "malformed token"},
		{"bad base64", "a.b.c", "malformed token"},
		{"kid not a string", signHeader(t, map[string]any{"kid": 7}), "malformed token"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id, err := v.Authenticate(bearer(c.token))
			if id != nil {
				t.Fatalf("identity %+v for a bad token", id)
			}
			wantAuthError(t, err, "invalid_token", c.reason)
		})
	}
}

// fakeAlg is a token whose header names alg, with a junk signature.
func fakeAlg(alg string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"`+alg+`","typ":"JWT"}`)) + "." + enc([]byte(`{"sub":"x"}`)) + "." + enc([]byte("sig"))
}

// signHeader signs valid claims with the P-256 key and extra header fields.
func signHeader(t *testing.T, h map[string]any) string {
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims(nil))
	for k, v := range h {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(keys().p256)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestClockSkew(t *testing.T) {
	f := keys()
	tok := sign(t, jwt.SigningMethodEdDSA, f.ed, "ed", claims(jwt.MapClaims{
		"exp": time.Now().Add(-10 * time.Second).Unix(),
		"nbf": time.Now().Add(10 * time.Second).Unix(),
	}))
	strict, _ := jwksVerifier(t, nil)
	_, err := strict.Authenticate(bearer(tok))
	wantAuthError(t, err, "invalid_token", "token expired")
	lenient, _ := jwksVerifier(t, func(o *Options) { o.ClockSkew = time.Minute })
	if _, err := lenient.Authenticate(bearer(tok)); err != nil {
		t.Fatalf("within skew: %v", err)
	}
}

func TestRequireExpOff(t *testing.T) {
	off := false
	v, _ := jwksVerifier(t, func(o *Options) { o.RequireExp = &off })
	tok := sign(t, jwt.SigningMethodES256, keys().p256, "p256", claims(jwt.MapClaims{"exp": nil}))
	if _, err := v.Authenticate(bearer(tok)); err != nil {
		t.Fatalf("token without exp, RequireExp off: %v", err)
	}
}

func TestHMACSecret(t *testing.T) {
	secret := []byte(strings.Repeat("s", 64))
	v := newVerifier(t, Options{Secret: secret, Audiences: []string{"api"}}, nil)
	if got := v.Algorithms(); strings.Join(got, ",") != "HS256,HS384,HS512" {
		t.Fatalf("default algorithms %v", got)
	}
	for _, m := range []jwt.SigningMethod{jwt.SigningMethodHS256, jwt.SigningMethodHS384, jwt.SigningMethodHS512} {
		if _, err := v.Authenticate(bearer(sign(t, m, secret, "", claims(nil)))); err != nil {
			t.Fatalf("%s: %v", m.Alg(), err)
		}
	}
	_, err := v.Authenticate(bearer(sign(t, jwt.SigningMethodHS256, []byte(strings.Repeat("x", 64)), "", claims(nil))))
	wantAuthError(t, err, "invalid_token", "bad signature")
	_, err = v.Authenticate(bearer(sign(t, jwt.SigningMethodES256, keys().p256, "", claims(nil))))
	wantAuthError(t, err, "invalid_token", "algorithm not allowed")

	short := newVerifier(t, Options{Secret: secret[:40]}, nil)
	if got := short.Algorithms(); strings.Join(got, ",") != "HS256" {
		t.Fatalf("a 40-byte secret allows %v, want HS256 only", got)
	}
}

// TestKeyConfusion signs HS256 with the RSA public key's PEM as the secret,
// the classic attack on verifiers that take the key type from the token.
func TestKeyConfusion(t *testing.T) {
	f := keys()
	path := writePEM(t, f.rsa.Public())
	pemBytes := mustRead(t, path)
	forged := sign(t, jwt.SigningMethodHS256, pemBytes, "", claims(nil))
	fromFile := newVerifier(t, Options{KeyFiles: []string{path}}, nil)
	fromJWKS, _ := jwksVerifier(t, nil)
	for name, v := range map[string]*Verifier{"key file": fromFile, "jwks": fromJWKS} {
		t.Run(name, func(t *testing.T) {
			_, err := v.Authenticate(bearer(forged))
			wantAuthError(t, err, "invalid_token", "algorithm not allowed")
			if _, err := v.Authenticate(bearer(sign(t, jwt.SigningMethodRS256, f.rsa, "", claims(nil)))); err != nil {
				t.Fatalf("the genuine RS256 token: %v", err)
			}
		})
	}
}

func TestChallenge(t *testing.T) {
	v, _ := jwksVerifier(t, func(o *Options) { o.Realm = "api" })
	tok := sign(t, jwt.SigningMethodES256, keys().p256, "p256", claims(jwt.MapClaims{"exp": time.Now().Add(-time.Hour).Unix()}))
	_, err := v.Authenticate(bearer(tok))
	wantAuthError(t, err, "invalid_token", "token expired")
	got := err.(interface{ Challenge() string }).Challenge()
	if want := `Bearer realm="api", error="invalid_token", error_description="token expired"`; got != want {
		t.Fatalf("challenge %q, want %q", got, want)
	}
}

// TestFilesAndJWKS mixes a key file with a JWKS URL: a token without kid
// may be signed by a key of either.
func TestFilesAndJWKS(t *testing.T) {
	f := keys()
	srv := newJWKSServer(t, jwk(f.p256.Public(), "remote", ""))
	o := hourly(srv.URL)
	o.KeyFiles = []string{writePEM(t, f.p384.Public(), f.stranger.Public())}
	v := newVerifier(t, o, newKeySets(t))
	for name, tok := range map[string]string{
		"remote key, no kid": sign(t, jwt.SigningMethodES256, f.p256, "", claims(nil)),
		"file key, no kid":   sign(t, jwt.SigningMethodES256, f.stranger, "", claims(nil)),
		"file key, any kid":  sign(t, jwt.SigningMethodES384, f.p384, "k9", claims(nil)),
		"remote key by kid":  sign(t, jwt.SigningMethodES256, f.p256, "remote", claims(nil)),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := v.Authenticate(bearer(tok)); err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
		})
	}
}
