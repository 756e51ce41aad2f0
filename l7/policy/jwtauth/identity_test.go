package jwtauth

import (
	"net/http"
	"slices"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

func TestClaimsToHeaders(t *testing.T) {
	v, _ := jwksVerifier(t, func(o *Options) {
		o.ClaimsToHeaders = map[string]string{
			"sub":                "x-user",
			"tenant":             "x-tenant-id",
			"groups":             "x-groups",
			"org":                "x-org",
			"level":              "x-level",
			"admin":              "x-admin",
			"realm_access.roles": "x-roles",
			"evil":               "x-evil",
			"evil_list":          "x-evil-list",
			"missing":            "x-missing",
			"nothing":            "x-nothing",
		}
	})
	tok := sign(t, jwt.SigningMethodES256, keys().p256, "p256", claims(jwt.MapClaims{
		"tenant":       "acme",
		"groups":       []string{"dev", "ops"},
		"org":          map[string]any{"id": 7, "name": "Acme"},
		"level":        12345678901,
		"admin":        true,
		"realm_access": map[string]any{"roles": []any{"reader", map[string]any{"x": 1}}},
		"evil":         "a\r\nX-Injected: 1",
		"evil_list":    []string{"ok", "bad\nline"},
		"nothing":      nil,
	}))
	id, err := v.Authenticate(bearer(tok))
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	want := http.Header{
		"X-User":      {"alice"},
		"X-Tenant-Id": {"acme"},
		"X-Groups":    {"dev,ops"},
		"X-Org":       {`{"id":7,"name":"Acme"}`},
		"X-Level":     {"12345678901"},
		"X-Admin":     {"true"},
		"X-Roles":     {`reader,{"x":1}`},
	}
	if len(id.Forward) != len(want) {
		t.Fatalf("forward %v, want %v", id.Forward, want)
	}
	for k, v := range want {
		if got := id.Forward[k]; !slices.Equal(got, v) {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

func TestScopes(t *testing.T) {
	v, _ := jwksVerifier(t, nil)
	cases := []struct {
		name  string
		extra jwt.MapClaims
		want  []string
	}{
		{"scope string", jwt.MapClaims{"scope": "read  write"}, []string{"read", "write"}},
		{"scp array", jwt.MapClaims{"scp": []any{"read", "", "admin"}}, []string{"read", "admin"}},
		{"scp string", jwt.MapClaims{"scp": "a b"}, []string{"a", "b"}},
		{"scope wins", jwt.MapClaims{"scope": "one", "scp": []string{"two"}}, []string{"one"}},
		{"none", nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id, err := v.Authenticate(bearer(sign(t, jwt.SigningMethodES256, keys().p256, "p256", claims(c.extra))))
			if err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
			if !slices.Equal(id.Scopes, c.want) {
				t.Fatalf("scopes %q, want %q", id.Scopes, c.want)
			}
			if id.Forward != nil {
				t.Fatalf("forward %v without claims_to_headers", id.Forward)
			}
		})
	}
}
