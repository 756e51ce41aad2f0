package authz

import (
	"net/http/httptest"
	"testing"

	"github.com/bouncer-proxy/bouncer/l7"
)

func TestKeyExpr(t *testing.T) {
	k, err := NewKeyExpr(`identity.consumer + ":" + request.headers["x-tenant"]`)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/x", nil)
	r.Header.Set("X-Tenant", "acme")
	info := &l7.Info{Identity: &l7.Identity{Method: "api_key", Consumer: "alice"}}
	r = r.WithContext(l7.WithInfo(r.Context(), info))
	if got, ok := k.Eval(r); !ok || got != "alice:acme" {
		t.Fatalf("Eval = %q, %v; want alice:acme", got, ok)
	}
	r.Header.Del("X-Tenant") // a missing key is an evaluation error: not limited
	if got, ok := k.Eval(r); ok {
		t.Fatalf("Eval without the header = %q, true; want false", got)
	}
	for _, bad := range []string{`request.method == "GET"`, `request.nope`, `"a" +`} {
		if _, err := NewKeyExpr(bad); err == nil {
			t.Errorf("NewKeyExpr(%q) succeeded; want an error", bad)
		}
	}
}
