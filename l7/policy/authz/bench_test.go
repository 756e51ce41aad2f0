package authz

import (
	"testing"
)

func benchmarkCheck(b *testing.B, expr string) {
	a, err := New(Options{RequireScopes: []string{"orders:read"}, Expressions: []string{expr}})
	if err != nil {
		b.Fatal(err)
	}
	r := request(checkCase{id: alice(), url: "/v1/orders?page=2", hdr: map[string]string{
		"X-Tenant": "acme", "Accept": "application/json", "User-Agent": "bench", "Authorization": "Bearer x",
		"Accept-Encoding": "gzip", "X-Request-Id": "abc", "Cookie": "a=b",
	}})
	if err := a.Check(r); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = a.Check(r)
	}
}

// BenchmarkCheckPath reads no headers: they are never copied.
func BenchmarkCheckPath(b *testing.B) {
	benchmarkCheck(b, `request.method == "GET" && request.path.startsWith("/v1/") && identity.claims.tenant == "acme"`)
}

// BenchmarkCheckHeader reads a header: the header map is built.
func BenchmarkCheckHeader(b *testing.B) {
	benchmarkCheck(b, `request.headers["x-tenant"] == identity.claims.tenant`)
}

// BenchmarkCheckRulesOnly has no expression: scope check only.
func BenchmarkCheckRulesOnly(b *testing.B) {
	a, err := New(Options{RequireScopes: []string{"orders:read"}, RequireClaims: map[string][]string{"org.tier": {"gold"}}})
	if err != nil {
		b.Fatal(err)
	}
	r := request(checkCase{id: alice()})
	b.ReportAllocs()
	for b.Loop() {
		_ = a.Check(r)
	}
}
