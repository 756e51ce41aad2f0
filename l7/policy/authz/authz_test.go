package authz

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/bouncer-proxy/bouncer/l7"
	"github.com/bouncer-proxy/bouncer/tls/mtls"
)

// alice is a JWT-authenticated caller; her claims are what a JSON decoder
// produces (float64 numbers, []any lists).
func alice() *l7.Identity {
	return &l7.Identity{
		Method: "jwt", Consumer: "alice", Subject: "u-1",
		Scopes: []string{"orders:read", "orders:write"},
		Claims: map[string]any{
			"sub": "u-1", "tenant": "acme", "roles": []any{"viewer", "ops"},
			"realm_access":               map[string]any{"roles": []any{"admin"}},
			"org":                        map[string]any{"id": float64(42), "tier": "gold"},
			"https://example.com/tenant": "acme",
			"email_verified":             true,
			"groups":                     "dev, qa",
		},
		Metadata: map[string]string{"plan": "pro"},
	}
}

var cert = &mtls.Identity{
	Subject: "CN=client,O=Example", URIs: []string{"spiffe://example.org/ns/prod/sa/web"},
	DNSNames: []string{"web.example.org"}, SPIFFEID: "spiffe://example.org/ns/prod/sa/web",
	FingerprintSHA256: "ab12",
}

type checkCase struct {
	name string
	opts Options
	id   *l7.Identity // nil: no identity
	cert *mtls.Identity
	url  string
	hdr  map[string]string
	want string // "" allowed, else the 403 message
}

var checkCases = []checkCase{
	{name: "no identity", opts: Options{}, want: "no identity"},
	{name: "anonymous identity", opts: Options{}, id: &l7.Identity{Method: "anonymous"}, want: "no identity"},
	{name: "identity only", opts: Options{}, id: alice()},
	{name: "scopes all present", opts: Options{RequireScopes: []string{"orders:write", "orders:read"}}, id: alice()},
	{name: "scope missing", opts: Options{RequireScopes: []string{"orders:read", "orders:admin"}}, id: alice(), want: "missing scope orders:admin"},
	{name: "role from list", opts: Options{RequireRoles: []string{"admin", "ops"}}, id: alice()},
	{name: "role missing", opts: Options{RequireRoles: []string{"admin"}}, id: alice(), want: "missing role (one of: admin)"},
	{name: "role nested claim", opts: Options{RequireRoles: []string{"admin"}, RolesClaim: "realm_access.roles"}, id: alice()},
	{name: "role from string claim", opts: Options{RequireRoles: []string{"qa"}, RolesClaim: "groups"}, id: alice()},
	{name: "role claim absent", opts: Options{RequireRoles: []string{"qa"}, RolesClaim: "nope"}, id: alice(), want: "missing role (one of: qa)"},
	{name: "claims match", id: alice(), opts: Options{RequireClaims: map[string][]string{
		"tenant": {"acme", "globex"}, "org.id": {"42"}, "org.tier": {"gold"}, "https://example.com/tenant": {"acme"},
		"email_verified": {"true"}, "roles": {"ops"},
	}}},
	{name: "claim mismatch", id: alice(), opts: Options{RequireClaims: map[string][]string{"tenant": {"acme"}, "org.id": {"7"}}},
		want: "claim org.id does not match"},
	{name: "claim absent", id: &l7.Identity{Method: "api_key"}, opts: Options{RequireClaims: map[string][]string{"tenant": {"acme"}}},
		want: "claim tenant does not match"},
	{name: "cel method and path", id: alice(), url: "/v1/orders?x=1",
		opts: Options{Expressions: []string{`request.method == "GET" && request.path.startsWith("/v1/")`}}},
	{name: "cel header against claim", id: alice(), hdr: map[string]string{"X-Tenant": "acme"},
		opts: Options{Expressions: []string{`request.headers["x-tenant"] == identity.claims.tenant`}}},
	{name: "cel second false", id: alice(), hdr: map[string]string{"X-Tenant": "other"},
		opts: Options{Expressions: []string{`"orders:read" in identity.scopes`, `request.headers["x-tenant"] == identity.claims.tenant`}},
		want: "expression 2 is false"},
	{name: "cel missing header errors", id: alice(),
		opts: Options{Expressions: []string{`request.headers["x-tenant"] == "acme"`}}, want: "expression 1 could not be evaluated"},
	{name: "cel has header", id: alice(),
		opts: Options{Expressions: []string{`!("x-tenant" in request.headers) || request.headers["x-tenant"] == "acme"`}}},
	{name: "cel query and client ip", id: alice(), url: "/?debug=1&debug=2",
		opts: Options{Expressions: []string{`request.query.debug == "1" && request.client_ip == "127.0.0.1"`}}},
	{name: "cel client cert", id: alice(), cert: cert,
		opts: Options{Expressions: []string{
			`identity.client_cert.spiffe.startsWith("spiffe://example.org/ns/prod/")`,
			`"web.example.org" in identity.client_cert.sans && identity.client_cert.sha256 == "ab12"`,
			`identity.client_cert.subject.contains("CN=client")`}}},
	{name: "cel no client cert", id: alice(),
		opts: Options{Expressions: []string{`identity.client_cert.spiffe != ""`}}, want: "expression 1 is false"},
	{name: "cel identity fields", id: alice(),
		opts: Options{Expressions: []string{`identity.method == "jwt" && identity.consumer == "alice" && identity.subject == "u-1" && identity.metadata.plan == "pro" && identity.claims.org.id == 42.0`}}},
	{name: "anonymous allowed", opts: Options{AllowAnonymous: true, Expressions: []string{`request.method == "GET" && identity.subject == ""`}}},
	{name: "anonymous allowed but expression false", opts: Options{AllowAnonymous: true, Expressions: []string{`size(identity.scopes) > 0`}},
		want: "expression 1 is false"},
}

// request builds a request as the gateway would hand it to the policy.
func request(tt checkCase) *http.Request {
	r := httptest.NewRequest("GET", "http://api.example.com"+cmp(tt.url, "/"), nil)
	for k, v := range tt.hdr {
		r.Header.Set(k, v)
	}
	info := &l7.Info{Client: netip.MustParseAddr("127.0.0.1"), Identity: tt.id, ClientCert: tt.cert}
	return r.WithContext(l7.WithInfo(r.Context(), info))
}

func cmp(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func TestCheck(t *testing.T) {
	for _, tt := range checkCases {
		t.Run(tt.name, func(t *testing.T) {
			a, err := New(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			err = a.Check(request(tt))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var e *l7.Error
			if !errors.As(err, &e) || e.Status != http.StatusForbidden || e.Code != l7.CodeForbidden || e.Message != tt.want {
				t.Fatalf("got %v, want 403 %q", err, tt.want)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want []string
	}{
		{"syntax", Options{Expressions: []string{`true`, `request.method ==`}}, []string{`expression 2 "request.method =="`, "1:18:"}},
		{"unknown field", Options{Expressions: []string{`request.methd == "GET"`}}, []string{"expression 1", "undefined field 'methd'"}},
		{"unknown variable", Options{Expressions: []string{`req.method == "GET"`}}, []string{"undeclared reference to 'req'"}},
		{"string result", Options{Expressions: []string{`request.path`}}, []string{"result is string, want bool"}},
		{"int result", Options{Expressions: []string{`1 + 2`}}, []string{"result is int, want bool"}},
		{"dyn result", Options{Expressions: []string{`identity.claims.admin`}}, []string{"result is dyn, want bool"}},
		{"anonymous with scopes", Options{AllowAnonymous: true, RequireScopes: []string{"a"}}, []string{"allow_anonymous cannot"}},
		{"bad claim path", Options{RequireClaims: map[string][]string{"org.": {"x"}}}, []string{`bad claim path "org."`}},
		{"claim without values", Options{RequireClaims: map[string][]string{"org": nil}}, []string{"no values"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.opts)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestCostLimit(t *testing.T) {
	a, err := New(Options{
		Expressions: []string{`identity.scopes.all(s, identity.scopes.all(t, s != t || s == t))`},
		CostLimit:   1000,
	})
	if err != nil {
		t.Fatal(err)
	}
	id := alice()
	id.Scopes = make([]string, 200)
	for i := range id.Scopes {
		id.Scopes[i] = strings.Repeat("s", i)
	}
	err = a.Check(request(checkCase{id: id}))
	var e *l7.Error
	if !errors.As(err, &e) || e.Message != "expression 1 could not be evaluated" || !strings.Contains(err.Error(), "cost limit") {
		t.Fatalf("got %v, want a cost-limit refusal", err)
	}
}

func TestCancelledContext(t *testing.T) {
	a, err := New(Options{Expressions: []string{`identity.scopes.all(s, identity.scopes.all(t, s != t || s == t))`}})
	if err != nil {
		t.Fatal(err)
	}
	id := alice()
	id.Scopes = make([]string, 300)
	for i := range id.Scopes {
		id.Scopes[i] = strings.Repeat("s", i)
	}
	r := request(checkCase{id: id})
	ctx, cancel := context.WithCancel(r.Context())
	cancel()
	if err := a.Check(r.WithContext(ctx)); err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("got %v, want an interrupted evaluation", err)
	}
}

func TestNeeds(t *testing.T) {
	tests := []struct {
		expr string
		want needs
	}{
		{`request.method == "GET"`, needs{}},
		{`request.headers["a"] == "b"`, needs{headers: true}},
		{`has(request.query.x)`, needs{query: true}},
		{`request == request`, needs{headers: true, query: true}},
		{`identity.subject == ""`, needs{}},
	}
	env, err := newEnv()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		_, n, err := compile(env, []string{tt.expr}, DefaultCostLimit)
		if err != nil {
			t.Fatal(err)
		}
		if n != tt.want {
			t.Errorf("%s: needs %+v, want %+v", tt.expr, n, tt.want)
		}
	}
}

func TestWrap(t *testing.T) {
	a, err := New(Options{RequireScopes: []string{"orders:write"}, Expressions: []string{`request.method != "DELETE"`}})
	if err != nil {
		t.Fatal(err)
	}
	auth := func(next http.Handler) http.Handler { // stands in for the authentication policy
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			info := &l7.Info{RequestID: "rid-7"}
			if r.Header.Get("Authorization") != "" {
				info.Identity = alice()
			}
			next.ServeHTTP(w, r.WithContext(l7.WithInfo(r.Context(), info)))
		})
	}
	srv := httptest.NewServer(auth(a.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "upstream")
	}))))
	defer srv.Close()
	for _, tt := range []struct {
		method, authz string
		status        int
		msg           string
	}{
		{"GET", "Bearer x", 200, ""},
		{"DELETE", "Bearer x", 403, "expression 1 is false"},
		{"GET", "", 403, "no identity"},
	} {
		req, _ := http.NewRequest(tt.method, srv.URL, nil)
		if tt.authz != "" {
			req.Header.Set("Authorization", tt.authz)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != tt.status {
			t.Fatalf("%s: status %d, want %d (%s)", tt.method, res.StatusCode, tt.status, body)
		}
		if tt.status == 200 {
			continue
		}
		var doc struct {
			Error struct{ Message, Code, RequestID string }
		}
		if err := json.Unmarshal(body, &doc); err != nil || doc.Error.Message != tt.msg || doc.Error.Code != l7.CodeForbidden {
			t.Fatalf("%s: body %s, want message %q", tt.method, body, tt.msg)
		}
	}
}
