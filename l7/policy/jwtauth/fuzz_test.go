package jwtauth

import (
	"context"
	"errors"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/bouncer-proxy/bouncer/l7"
)

// FuzzVerify feeds arbitrary strings to the verifier, both as a bearer
// token and straight to the parser: it must never panic, and every failure
// must be ErrNoCredentials or an *l7.AuthError.
func FuzzVerify(f *testing.F) {
	k := keys()
	f.Add(sign(f, jwt.SigningMethodES256, k.p256, "", claims(nil)))
	f.Add(sign(f, jwt.SigningMethodRS256, k.rsa, "kid", claims(jwt.MapClaims{"scope": 5, "scp": []any{1, nil}})))
	f.Add(sign(f, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", claims(nil)))
	f.Add(fakeAlg("EdDSA"))
	f.Add("a.b.c")
	f.Add("")
	v, err := New(Options{
		KeyFiles:        []string{writePEM(f, k.rsa.Public(), k.p256.Public(), k.ed.Public())},
		ClaimsToHeaders: map[string]string{"sub": "x-sub", "a.b": "x-ab", "scope": "x-scope"},
		RequireExp:      new(bool),
	}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		_, err := v.Authenticate(bearer(tok))
		checkFuzzErr(t, err)
		claims, err := v.verify(context.Background(), tok)
		checkFuzzErr(t, err)
		if err == nil {
			v.identity(claims)
		}
	})
}

func checkFuzzErr(t *testing.T, err error) {
	var ae *l7.AuthError
	if err != nil && !errors.Is(err, l7.ErrNoCredentials) && !errors.As(err, &ae) {
		t.Fatalf("error %T %v", err, err)
	}
}
