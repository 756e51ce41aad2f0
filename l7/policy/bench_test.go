package policy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/bouncer-proxy/bouncer/configs"
	"github.com/bouncer-proxy/bouncer/l7"
)

// BenchmarkChain measures what a route's policies add per request: none,
// then JWT (a repeated token, so the verified-token cache answers) with a
// local rate limit, as the "JWT + local rate limit" route.
func BenchmarkChain(b *testing.B) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	pemFile := filepath.Join(b.TempDir(), "key.pem")
	if err := os.WriteFile(pemFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		b.Fatal(err)
	}
	tok, _ := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{"sub": "alice", "aud": "bench",
		"exp": time.Now().Add(time.Hour).Unix()}).SignedString(key)
	cfg := &configs.Config{Policies: map[string]configs.Policy{
		"jwt":   {JWT: &configs.JWTPolicy{KeyFiles: []string{pemFile}, Audiences: []string{"bench"}, RequireExp: true, CacheSize: 1000, CacheTTL: configs.Duration(time.Minute)}},
		"limit": {RateLimit: &configs.RateLimitPolicy{Key: "client_ip", Store: "local", MaxKeys: 1000, Limits: []configs.RateLimit{{Requests: 1 << 40, Per: configs.Duration(time.Second)}}}},
	}}
	st := NewState(nil, nil)
	defer st.Close()
	set, errs := Build(cfg, st)
	if errs != nil {
		b.Fatal(errs)
	}
	defer set.Close()
	terminal := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	for _, c := range []struct {
		name     string
		policies []string
	}{{"none", nil}, {"jwt+ratelimit", []string{"jwt", "limit"}}} {
		h := set.Chain(c.policies, terminal)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r := httptest.NewRequest("GET", "/x", nil)
					r.Header.Set("Authorization", "Bearer "+tok)
					info := &l7.Info{Client: netip.MustParseAddr("192.0.2.7")}
					r = r.WithContext(l7.WithInfo(r.Context(), info))
					w := httptest.NewRecorder()
					h.ServeHTTP(w, r)
					if w.Code != http.StatusNoContent {
						b.Fatalf("status %d: %s", w.Code, w.Body)
					}
				}
			})
		})
	}
}
