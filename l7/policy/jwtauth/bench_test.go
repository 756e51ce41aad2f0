package jwtauth

import (
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// BenchmarkVerify measures Authenticate for a token whose key the JWKS
// set already holds.
func BenchmarkVerify(b *testing.B) {
	f := keys()
	srv := newJWKSServer(b, publicJWKs()...)
	v := newVerifier(b, Options{JWKSURL: srv.URL, Audiences: []string{"api"}, Issuers: []string{"https://issuer.test"}}, newKeySets(b))
	cases := []struct {
		name string
		tok  string
	}{
		{"ES256", sign(b, jwt.SigningMethodES256, f.p256, "p256", claims(nil))},
		{"RS256", sign(b, jwt.SigningMethodRS256, f.rsa, "rsa", claims(nil))},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			r := bearer(c.tok)
			if _, err := v.Authenticate(r); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Authenticate(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
