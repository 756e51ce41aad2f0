package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"

	"github.com/bouncer-proxy/bouncer/internal/testsvc"
	"github.com/bouncer-proxy/bouncer/l7/policy/credauth"
)

// issuer is a JWKS endpoint with one ES256 key, and signs tokens with it.
type issuer struct {
	key *ecdsa.PrivateKey
	url string
}

func newIssuer(t *testing.T) *issuer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}}
	doc, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(doc)
	}))
	t.Cleanup(srv.Close)
	return &issuer{key: key, url: srv.URL}
}

func (is *issuer) token(t *testing.T, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	tok.Header["kid"] = "k1"
	s, err := tok.SignedString(is.key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// headerEcho answers with the request headers it got, as JSON.
func headerEcho(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "max-age=60")
		_ = json.NewEncoder(w).Encode(r.Header)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

type reply struct {
	status int
	header http.Header
	body   string
}

func send(t *testing.T, method, url string, hdr map[string]string) reply {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := h1Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, string(b)}
}

// TestPolicyChain runs a route with JWT or API-key authentication, a
// scope requirement, claims forwarded upstream and a per-consumer rate
// limit, listed out of phase order, through the binary.
func TestPolicyChain(t *testing.T) {
	is := newIssuer(t)
	backend := headerEcho(t)
	p := startConfig(t, fmt.Sprintf(`
admin: {address: "127.0.0.1:0"}
listeners:
  - {name: web, address: "127.0.0.1:0"}
routes:
  - match: {prefix: /orders}
    policies: [per-consumer, need-scope, keys, jwt]
    proxy: {upstream: app}
upstreams:
  app: {endpoints: [%q]}
policies:
  jwt:
    jwt: {jwks_url: %q, audiences: [orders], claims_to_headers: {sub: X-User}}
  keys:
    api_key: {keys: [{consumer: batch, hash: %q}]}
  need-scope:
    authorize: {expressions: ['identity.method == "api_key" || "orders:read" in identity.scopes']}
  per-consumer:
    rate_limit: {key: consumer, limits: [{name: burst, requests: 3, per: 1m}]}
`, backend, is.url, credauth.HashAPIKey("s3cret")))
	base := p.url("web") + "/orders"
	exp := time.Now().Add(time.Hour).Unix()

	r := send(t, "GET", base, nil)
	if r.status != 401 || !strings.Contains(strings.Join(r.header.Values("WWW-Authenticate"), ", "), "Bearer") || !strings.Contains(r.body, "UNAUTHENTICATED") {
		t.Fatalf("no credentials: %d %v %s", r.status, r.header, r.body)
	}
	bad := is.token(t, jwt.MapClaims{"sub": "mallory", "aud": "other", "exp": exp})
	r = send(t, "GET", base, map[string]string{"Authorization": "Bearer " + bad})
	if r.status != 401 || !strings.Contains(r.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("wrong audience: %d %v %s", r.status, r.header, r.body)
	}
	noScope := is.token(t, jwt.MapClaims{"sub": "bob", "aud": "orders", "exp": exp, "scope": "profile"})
	if r = send(t, "GET", base, map[string]string{"Authorization": "Bearer " + noScope}); r.status != 403 {
		t.Fatalf("missing scope: %d %s", r.status, r.body)
	}
	good := is.token(t, jwt.MapClaims{"sub": "alice", "aud": "orders", "exp": exp, "scope": "orders:read"})
	hdr := map[string]string{"Authorization": "Bearer " + good, "X-User": "forged"}
	r = send(t, "GET", base, hdr)
	if r.status != 200 || !strings.Contains(r.body, `"X-User":["alice"]`) {
		t.Fatalf("good token: %d %s", r.status, r.body)
	}
	if rl := r.header.Get("Ratelimit"); !strings.Contains(rl, "r=2") {
		t.Fatalf("RateLimit header = %q, want 2 remaining", rl)
	}
	for range 2 {
		send(t, "GET", base, hdr)
	}
	r = send(t, "GET", base, hdr)
	if r.status != 429 || r.header.Get("Retry-After") == "" || !strings.Contains(r.body, "RATE_LIMITED") {
		t.Fatalf("fourth request of alice: %d %v %s", r.status, r.header, r.body)
	}
	// Another consumer has its own counter.
	// A forged X-User never reaches the upstream, even when the method
	// that passed (an API key) sets none.
	if r = send(t, "GET", base, map[string]string{"X-API-Key": "s3cret", "X-User": "forged"}); r.status != 200 || strings.Contains(r.body, "forged") {
		t.Fatalf("api key: %d %s", r.status, r.body)
	}
	if r = send(t, "GET", base, map[string]string{"X-API-Key": "wrong"}); r.status != 401 {
		t.Fatalf("wrong api key: %d %s", r.status, r.body)
	}
}

// TestPolicyEdge checks the policies that answer at the edge: CORS
// preflight, IP deny, body limit, compression and the cache.
func TestPolicyEdge(t *testing.T) {
	backend := headerEcho(t)
	p := startConfig(t, fmt.Sprintf(`
admin: {address: "127.0.0.1:0"}
listeners:
  - {name: web, address: "127.0.0.1:0", policies: [small]}
routes:
  - match: {prefix: /api}
    policies: [cors, gz, cached]
    proxy: {upstream: app}
  - match: {prefix: /private}
    policies: [nobody]
    proxy: {upstream: app}
upstreams:
  app: {endpoints: [%q]}
policies:
  small: {body_limit: {max_bytes: 16}}
  cors: {cors: {allow_origins: ["https://*.example.com"], allow_methods: [PUT], allow_headers: [Content-Type], max_age: 10m}}
  gz: {compress: {encodings: [gzip], min_bytes: 16}}
  cached: {cache: {max_bytes: 1MiB}}
  nobody: {ip_filter: {deny: [127.0.0.0/8]}}
`, backend))
	base := p.url("web")
	r := send(t, "OPTIONS", base+"/api/x", map[string]string{"Origin": "https://app.example.com", "Access-Control-Request-Method": "PUT"})
	if r.status != 204 || r.header.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
		t.Fatalf("preflight: %d %v", r.status, r.header)
	}
	if r = send(t, "GET", base+"/private", nil); r.status != 403 {
		t.Fatalf("denied address: %d %s", r.status, r.body)
	}
	req, _ := http.NewRequest("POST", base+"/api/x", strings.NewReader(strings.Repeat("x", 17)))
	resp, err := h1Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Fatalf("body over the listener's limit: %d", resp.StatusCode)
	}
	first := send(t, "GET", base+"/api/c", map[string]string{"Accept-Encoding": "gzip"})
	second := send(t, "GET", base+"/api/c", map[string]string{"Accept-Encoding": "gzip"})
	if first.header.Get("Content-Encoding") != "gzip" || !strings.Contains(first.header.Get("Cache-Status"), "fwd=") {
		t.Fatalf("first: %v", first.header)
	}
	if !strings.Contains(second.header.Get("Cache-Status"), "hit") {
		t.Fatalf("second: Cache-Status %q, want a hit", second.header.Get("Cache-Status"))
	}
	purge := send(t, "POST", p.admin+"/cache/purge?policy=cached&prefix="+base+"/api/", nil)
	if purge.status != 200 || !strings.Contains(purge.body, `"purged":`) || strings.Contains(purge.body, `"purged":0`) {
		t.Fatalf("purge: %d %s", purge.status, purge.body)
	}
	if third := send(t, "GET", base+"/api/c", nil); !strings.Contains(third.header.Get("Cache-Status"), "fwd=") {
		t.Fatalf("after the purge: Cache-Status %q, want a miss", third.header.Get("Cache-Status"))
	}
	if r := send(t, "POST", p.admin+"/cache/purge?policy=nope&key=x", nil); r.status != 404 || !strings.Contains(r.body, "cached") {
		t.Fatalf("unknown cache: %d %s", r.status, r.body)
	}
}

// TestPolicyRedisRateLimit runs two Bouncer processes sharing one limit
// through a real Redis: together they admit what the limit allows, and
// with Redis stopped one fails closed (503) and the other open (200).
func TestPolicyRedisRateLimit(t *testing.T) {
	rd := testsvc.StartRedis(t)
	backend := headerEcho(t)
	cfg := func(failOpen bool) string {
		return fmt.Sprintf(`
admin: {address: "127.0.0.1:0"}
listeners:
  - {name: web, address: "127.0.0.1:0"}
routes:
  - match: {prefix: /rate}
    policies: [steady]
    proxy: {upstream: app}
  - match: {prefix: /}
    policies: [shared]
    proxy: {upstream: app}
upstreams:
  app: {endpoints: [%q]}
redis: {address: %q, timeout: 200ms}
policies:
  shared:
    rate_limit: {key: route, store: redis, fail_open: %v, limits: [{requests: 20, per: 1m}]}
  steady:
    rate_limit: {key: route, store: redis, limits: [{requests: 50, per: 1s, burst: 10}]}
`, backend, rd.Addr, failOpen)
	}
	a, b := startConfig(t, cfg(false)), startConfig(t, cfg(true))
	admitted := 0
	for i := range 40 {
		p := a
		if i%2 == 1 {
			p = b
		}
		switch r := send(t, "GET", p.url("web")+"/x", nil); r.status {
		case 200:
			admitted++
		case 429:
		default:
			t.Fatalf("request %d: %d %s", i, r.status, r.body)
		}
	}
	// 20 per minute: the burst of 20, plus at most one more cell while the
	// 40 requests run.
	if admitted < 20 || admitted > 21 {
		t.Fatalf("the two instances admitted %d of 40; the shared limit allows 20 (21 with one refill)", admitted)
	}
	steadyRate(t, a, b)
	rd.Stop()
	if r := send(t, "GET", a.url("web")+"/x", nil); r.status != 503 || !strings.Contains(r.body, "UNAVAILABLE") {
		t.Fatalf("fail closed without Redis: %d %s", r.status, r.body)
	}
	if r := send(t, "GET", b.url("web")+"/x", nil); r.status != 200 {
		t.Fatalf("fail open without Redis: %d %s", r.status, r.body)
	}
	_, metrics := b.adminGet("/metrics")
	if !strings.Contains(metrics, `bouncer_rate_limit_store_errors_total{policy="shared"}`) {
		t.Fatalf("no store error counted:\n%s", metrics)
	}
}

// steadyRate sends requests from four loops per instance for about two
// seconds and checks that together they were admitted at the shared rate
// (50/s, burst 10), neither more nor much less. The burst lets the limit
// bank what a pause of the loaded test machine would otherwise lose
// (with a burst of 1, every 20 ms without a request lost a cell, and a
// CI run admitted only 71 where 104 were allowed).
func steadyRate(t *testing.T, procs ...*proc) {
	t.Helper()
	var admitted, sent atomic.Int64
	start := time.Now()
	deadline := start.Add(2 * time.Second)
	var wg sync.WaitGroup
	for _, p := range procs {
		url := p.url("web") + "/rate"
		for range 4 {
			wg.Go(func() {
				for time.Now().Before(deadline) {
					resp, err := h1Client().Get(url)
					if err != nil {
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					sent.Add(1)
					if resp.StatusCode == 200 {
						admitted.Add(1)
					}
				}
			})
		}
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	most := 50*elapsed + 10 + 1 // the burst, and one cell of clock granularity
	if n := float64(admitted.Load()); n > most || n < 0.7*50*elapsed {
		t.Fatalf("two instances admitted %.0f of %d requests in %.2fs; the shared rate allows %.0f", n, sent.Load(), elapsed, most)
	}
	t.Logf("two instances admitted %d of %d requests in %.2fs at a shared 50/s", admitted.Load(), sent.Load(), elapsed)
}

// TestPolicyStateSurvivesReload: a reload that keeps a policy keeps its
// rate-limit counters and its JWKS (no second fetch), even when routes
// around it change.
func TestPolicyStateSurvivesReload(t *testing.T) {
	var fetches atomic.Int64
	is := newIssuer(t)
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		resp, err := http.Get(is.url)
		if err != nil {
			http.Error(w, err.Error(), 502)
			return
		}
		defer resp.Body.Close()
		_, _ = io.Copy(w, resp.Body)
	}))
	t.Cleanup(jwks.Close)
	backend := headerEcho(t)
	cfg := func(extraRoute string) string {
		return fmt.Sprintf(`admin: {address: "127.0.0.1:0"}
listeners:
  - {name: web, address: "127.0.0.1:0"}
routes:
  - match: {prefix: /api}
    policies: [jwt, three]
    proxy: {upstream: app}
%s
upstreams:
  app: {endpoints: [%q]}
policies:
  jwt: {jwt: {jwks_url: %q}}
  three: {rate_limit: {key: consumer, limits: [{requests: 3, per: 1h}]}}
`, extraRoute, backend, jwks.URL)
	}
	path := filepath.Join(t.TempDir(), "bouncer.yaml")
	writeFile(t, path, cfg(""))
	p := startBouncer(t, path)
	hdr := map[string]string{"Authorization": "Bearer " + is.token(t, jwt.MapClaims{"sub": "alice", "exp": time.Now().Add(time.Hour).Unix()})}
	for i := range 2 {
		if r := send(t, "GET", p.url("web")+"/api", hdr); r.status != 200 {
			t.Fatalf("request %d: %d %s", i, r.status, r.body)
		}
	}
	writeFile(t, path, cfg("  - {match: {path: /new}, respond: {status: 204}}"))
	if code, body := httpDo(t, http.MethodPost, p.admin+"/reload"); code != 200 {
		t.Fatalf("reload: %d %s", code, body)
	}
	if r := send(t, "GET", p.url("web")+"/new", nil); r.status != 204 {
		t.Fatalf("the reloaded config is not serving: %d", r.status)
	}
	if r := send(t, "GET", p.url("web")+"/api", hdr); r.status != 200 {
		t.Fatalf("third request after the reload: %d %s", r.status, r.body)
	}
	if r := send(t, "GET", p.url("web")+"/api", hdr); r.status != 429 {
		t.Fatalf("fourth request: %d, want 429: the counter must survive the reload", r.status)
	}
	if n := fetches.Load(); n != 1 {
		t.Fatalf("the JWKS was fetched %d times; a reload that keeps the policy must not fetch it again", n)
	}
}

// TestPolicyExtAuthz: an external authorization service allows with a
// header for the upstream, denies with its own status, and when it cannot
// be reached one policy fails closed (503) and another open, both counted.
func TestPolicyExtAuthz(t *testing.T) {
	authz := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer good" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="ext"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("X-Tenant", "acme")
		w.Header().Set("X-Auth-Consumer", "svc-a")
	}))
	t.Cleanup(authz.Close)
	down := freePort(t) // nothing listens there
	backend := headerEcho(t)
	p := startConfig(t, fmt.Sprintf(`admin: {address: "127.0.0.1:0"}
listeners:
  - {name: web, address: "127.0.0.1:0"}
routes:
  - {match: {prefix: /ok}, policies: [ext], proxy: {upstream: app}}
  - {match: {prefix: /closed}, policies: [ext-down], proxy: {upstream: app}}
  - {match: {prefix: /open}, policies: [ext-open], proxy: {upstream: app}}
upstreams:
  app: {endpoints: [%q]}
policies:
  ext: {ext_authz: {url: %q, upstream_headers: [X-Tenant], client_headers: [WWW-Authenticate], consumer_header: X-Auth-Consumer}}
  ext-down: {ext_authz: {url: "http://%s/check", timeout: 500ms}}
  ext-open: {ext_authz: {url: "http://%s/check", timeout: 500ms, fail_open: true}}
`, backend, authz.URL, down, down))
	base := p.url("web")
	r := send(t, "GET", base+"/ok", map[string]string{"Authorization": "Bearer good", "X-Tenant": "forged"})
	if r.status != 200 || !strings.Contains(r.body, `"X-Tenant":["acme"]`) {
		t.Fatalf("allowed: %d %s", r.status, r.body)
	}
	r = send(t, "GET", base+"/ok", map[string]string{"Authorization": "Bearer bad"})
	if r.status != 401 || r.header.Get("WWW-Authenticate") != `Bearer realm="ext"` {
		t.Fatalf("denied: %d %v %s", r.status, r.header, r.body)
	}
	if r = send(t, "GET", base+"/closed", nil); r.status != 503 {
		t.Fatalf("service down, fail closed: %d %s", r.status, r.body)
	}
	if r = send(t, "GET", base+"/open", nil); r.status != 200 {
		t.Fatalf("service down, fail open: %d %s", r.status, r.body)
	}
	_, metrics := p.adminGet("/metrics")
	for _, want := range []string{`bouncer_ext_authz_unavailable_total{policy="ext-down"} 1`, `bouncer_ext_authz_unavailable_total{policy="ext-open"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
