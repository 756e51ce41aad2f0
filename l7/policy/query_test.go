package policy

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/bouncer-proxy/bouncer/configs"
	"github.com/bouncer-proxy/bouncer/l7"
	"github.com/bouncer-proxy/bouncer/l7/policy/credauth"
)

// Query-string credentials leave the URL when the chain starts: a request
// refused before authentication (rate limit, IP filter) or decided by
// another method keeps none in RequestURI (what the access log writes) or
// in the URL (what goes upstream), and the methods still read them.
func TestChainStripsQueryCredentials(t *testing.T) {
	secret := strings.Repeat("s", 32)
	set := buildSet(t, map[string]configs.Policy{
		"limit": {RateLimit: &configs.RateLimitPolicy{Key: "client_ip", Store: "local", MaxKeys: 100,
			Limits: []configs.RateLimit{{Requests: 1, Per: configs.Duration(time.Hour)}}}},
		"deny": {IPFilter: &configs.IPFilterPolicy{Deny: []string{"192.0.2.0/24"}}},
		"keys": {APIKey: &configs.APIKeyPolicy{Header: "X-API-Key", Query: "api_key",
			Keys: []configs.APIKeyItem{{Consumer: "c", Hash: credauth.HashAPIKey("k")}}}},
		"jwt": {JWT: &configs.JWTPolicy{Secret: secret, RequireExp: true,
			From: []configs.TokenSource{{Header: "Authorization"}, {Query: "access_token"}}}},
		"intro": {Introspection: &configs.IntrospectionPolicy{URL: "http://127.0.0.1:1/introspect",
			From: []configs.TokenPlace{{Query: "token"}}}},
	})
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "u", "exp": time.Now().Add(time.Hour).Unix()}).
		SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	var upstream string
	var who *l7.Identity
	h := set.Chain([]string{"limit", "deny", "keys", "jwt", "intro"}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		upstream, who = r.URL.RawQuery, l7.InfoFrom(r.Context()).Identity
	}))
	for _, tc := range []struct {
		name, client, target, key string
		status                    int
		consumer                  string // who authentication says it is, when it passes
	}{
		{"api key from the query", "198.51.100.1", "/p?x=1&api_key=k", "", 200, "c"},
		{"refused by the rate limit", "198.51.100.1", "/p?access_token=" + tok + "&x=1&token=t&api_key=k", "", 429, ""},
		{"refused by the ip filter", "192.0.2.1", "/p?x=1&access_token=" + tok, "", 403, ""},
		{"decided by an earlier method", "198.51.100.2", "/p?x=1&access_token=" + tok + "&token=t", "k", 200, "c"},
		{"jwt from the query", "198.51.100.3", "/p?access_token=" + tok + "&x=1", "", 200, "u"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			upstream, who = "-", nil
			r := httptest.NewRequest(http.MethodGet, tc.target, nil)
			if tc.key != "" {
				r.Header.Set("X-API-Key", tc.key)
			}
			r = r.WithContext(l7.WithInfo(r.Context(), &l7.Info{Client: netip.MustParseAddr(tc.client)}))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d (%s)", w.Code, tc.status, w.Body)
			}
			if r.RequestURI != "/p?x=1" || r.URL.RawQuery != "x=1" {
				t.Errorf("after the chain: RequestURI %q, query %q; want the credentials gone", r.RequestURI, r.URL.RawQuery)
			}
			if tc.status != 200 {
				return
			}
			if upstream != "x=1" || who == nil || who.Consumer != tc.consumer {
				t.Errorf("upstream query %q, identity %+v; want x=1 and consumer %q", upstream, who, tc.consumer)
			}
		})
	}
}
