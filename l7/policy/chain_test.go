package policy

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bouncer-proxy/bouncer/configs"
	"github.com/bouncer-proxy/bouncer/l7"
	"github.com/bouncer-proxy/bouncer/l7/policy/credauth"
)

func buildSet(t *testing.T, policies map[string]configs.Policy) *Set {
	t.Helper()
	st := NewState(nil, nil)
	t.Cleanup(st.Close)
	set, errs := Build(&configs.Config{Policies: policies}, st)
	if errs != nil {
		t.Fatal(errs)
	}
	t.Cleanup(set.Close)
	return set
}

func serve(h http.Handler, method, path string, hdr map[string]string, client string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, nil)
	if method == "POST" {
		r = httptest.NewRequest(method, path, strings.NewReader(strings.Repeat("x", 100)))
	}
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	info := &l7.Info{Client: netip.MustParseAddr(client)}
	r = r.WithContext(l7.WithInfo(r.Context(), info))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// The phases decide the order, not the list: an IP denial answers before
// authentication, and a body limit before it too.
func TestChainPhaseOrder(t *testing.T) {
	set := buildSet(t, map[string]configs.Policy{
		"keys":  {APIKey: &configs.APIKeyPolicy{Header: "X-API-Key", Keys: []configs.APIKeyItem{{Consumer: "c", Hash: credauth.HashAPIKey("k")}}}},
		"deny":  {IPFilter: &configs.IPFilterPolicy{Deny: []string{"192.0.2.0/24"}}},
		"small": {BodyLimit: &configs.BodyLimitPolicy{MaxBytes: 10}},
		"tag":   {Headers: &configs.HeadersPolicy{Response: &configs.HeaderChanges{Set: map[string]string{"X-Tag": "yes"}}}},
	})
	var seen *l7.Identity
	h := set.Chain([]string{"tag", "keys", "small", "deny"}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = l7.InfoFrom(r.Context()).Identity
		w.WriteHeader(http.StatusOK)
	}))
	if w := serve(h, "GET", "/", nil, "192.0.2.1"); w.Code != 403 {
		t.Fatalf("denied address without credentials: %d, want 403 from ip_filter before authentication", w.Code)
	}
	if w := serve(h, "POST", "/", nil, "198.51.100.1"); w.Code != 413 {
		t.Fatalf("big body without credentials: %d, want 413 before authentication", w.Code)
	}
	if w := serve(h, "GET", "/", map[string]string{"X-API-Key": "k"}, "198.51.100.1"); w.Code != 200 || w.Header().Get("X-Tag") != "yes" || seen == nil || seen.Consumer != "c" {
		t.Fatalf("good key: %d %v identity %+v", w.Code, w.Header(), seen)
	}
	if got := set.Names([]string{"tag", "keys", "small", "deny"}); strings.Join(got, ",") != "deny (ip_filter),small (body_limit),keys (api_key),tag (headers)" {
		t.Fatalf("Names = %v", got)
	}
}

// Authentication methods are alternatives: the first credential present
// decides; a bad one is refused even if another method would pass; none
// at all is a 401 with every challenge, or the anonymous consumer.
func TestChainAuthAlternatives(t *testing.T) {
	set := buildSet(t, map[string]configs.Policy{
		"keys":  {APIKey: &configs.APIKeyPolicy{Header: "X-API-Key", Keys: []configs.APIKeyItem{{Consumer: "batch", Hash: credauth.HashAPIKey("k")}}}},
		"basic": {BasicAuth: &configs.BasicAuthPolicy{Realm: "staff", Users: []configs.BasicUser{{Name: "ops", Hash: "$2a$04$XK6MMRBda2yyAf.QL3tjSeAIU3iqToJjlWAzi/pBMiui5/zi2XjBW"}}}},
		"anon":  {Anonymous: &configs.AnonymousPolicy{Consumer: "guest"}},
	})
	var seen *l7.Identity
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = l7.InfoFrom(r.Context()).Identity
	})
	h := set.Chain([]string{"keys", "basic"}, ok)
	w := serve(h, "GET", "/", nil, "198.51.100.1")
	if w.Code != 401 || len(w.Header().Values("WWW-Authenticate")) != 2 {
		t.Fatalf("no credentials: %d %v", w.Code, w.Header())
	}
	if w = serve(h, "GET", "/", map[string]string{"X-API-Key": "bad", "Authorization": "Basic b3BzOnB3"}, "198.51.100.1"); w.Code != 401 {
		t.Fatalf("a bad key beside good basic credentials: %d, want 401", w.Code)
	}
	seen = nil
	if w = serve(set.Chain([]string{"keys", "anon"}, ok), "GET", "/", nil, "198.51.100.1"); w.Code != 200 || seen == nil || seen.Consumer != "guest" || seen.Method != "anonymous" {
		t.Fatalf("anonymous: %d %+v", w.Code, seen)
	}
}

// An introspection policy built from the config asks the endpoint and
// caches the answer.
func TestChainIntrospection(t *testing.T) {
	var calls atomic.Int64
	as := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		_ = r.ParseForm()
		w.Header().Set("Content-Type", "application/json")
		if user, pass, _ := r.BasicAuth(); user != "gw" || pass != "s3cret" || r.PostForm.Get("token") != "opaque-1" {
			_, _ = w.Write([]byte(`{"active": false}`))
			return
		}
		_, _ = w.Write([]byte(`{"active": true, "client_id": "mobile", "scope": "a b"}`))
	}))
	t.Cleanup(as.Close)
	set := buildSet(t, map[string]configs.Policy{
		"opaque": {Introspection: &configs.IntrospectionPolicy{URL: as.URL, ClientID: "gw", ClientSecret: "s3cret",
			Timeout: configs.Duration(2 * time.Second), CacheTTL: configs.Duration(time.Minute), NegativeCacheTTL: configs.Duration(time.Minute), CacheSize: 100}},
	})
	var seen *l7.Identity
	h := set.Chain([]string{"opaque"}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = l7.InfoFrom(r.Context()).Identity
	}))
	for range 2 {
		if w := serve(h, "GET", "/", map[string]string{"Authorization": "Bearer opaque-1"}, "198.51.100.1"); w.Code != 200 || seen == nil || seen.Consumer != "mobile" || len(seen.Scopes) != 2 {
			t.Fatalf("active token: %d %+v", w.Code, seen)
		}
	}
	if w := serve(h, "GET", "/", map[string]string{"Authorization": "Bearer other"}, "198.51.100.1"); w.Code != 401 {
		t.Fatalf("inactive token: %d", w.Code)
	}
	if n := calls.Load(); n != 2 {
		t.Fatalf("%d calls to the endpoint; the active answer must be cached", n)
	}
}

// A rate_limit keyed by route counts each route that lists it apart.
func TestRateLimitKeyRoute(t *testing.T) {
	set := buildSet(t, map[string]configs.Policy{
		"one": {RateLimit: &configs.RateLimitPolicy{Key: "route", Store: "local", MaxKeys: 100,
			Limits: []configs.RateLimit{{Requests: 1, Per: configs.Duration(time.Hour)}}}},
	})
	h := set.Chain([]string{"one"}, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	on := func(route string) int {
		r := httptest.NewRequest("GET", "/", nil)
		r = r.WithContext(l7.WithInfo(r.Context(), &l7.Info{Route: route, Client: netip.MustParseAddr("192.0.2.1")}))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	if a, b := on("a"), on("b"); a != 200 || b != 200 {
		t.Fatalf("first request of each route: %d %d, want 200 200", a, b)
	}
	if a := on("a"); a != 429 {
		t.Fatalf("second request of route a: %d, want 429", a)
	}
}

// client_ip counts an IPv6 client by its /64: a client rotating through
// the addresses of its prefix shares one bucket; IPv4 stays per address.
func TestRateLimitClientIPv6Prefix(t *testing.T) {
	set := buildSet(t, map[string]configs.Policy{
		"ip": {RateLimit: &configs.RateLimitPolicy{Key: "client_ip", Store: "local", MaxKeys: 100,
			Limits: []configs.RateLimit{{Requests: 1, Per: configs.Duration(time.Hour)}}}},
	})
	h := set.Chain([]string{"ip"}, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for _, tc := range []struct {
		client string
		want   int
	}{
		{"2001:db8:1:2::1", 200},
		{"2001:db8:1:2:ffff::9", 429}, // same /64
		{"2001:db8:1:3::1", 200},      // next /64
		{"192.0.2.1", 200},
		{"192.0.2.2", 200},
		{"::ffff:192.0.2.3", 200}, // mapped IPv4 is IPv4
		{"192.0.2.3", 429},
	} {
		if w := serve(h, "GET", "/", nil, tc.client); w.Code != tc.want {
			t.Errorf("%s: %d, want %d", tc.client, w.Code, tc.want)
		}
	}
}
