package credauth

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestTTLCache(t *testing.T) {
	now := time.Now()
	c := newTTLCache[int](2)
	k := func(b byte) [32]byte { return [32]byte{b} }
	c.put(k(1), 1, now.Add(time.Second), now)
	c.put(k(2), 2, now.Add(time.Hour), now)
	if v, ok := c.get(k(1), now); !ok || v != 1 {
		t.Fatalf("get 1 = %d, %v", v, ok)
	}
	if _, ok := c.get(k(1), now.Add(time.Second)); ok {
		t.Fatal("expired entry returned")
	}
	// Full: the expired entry goes, the live one stays.
	later := now.Add(2 * time.Second)
	c.put(k(3), 3, later.Add(time.Hour), later)
	if _, ok := c.get(k(2), later); !ok {
		t.Fatal("live entry evicted while an expired one was there")
	}
	if v, ok := c.get(k(3), later); !ok || v != 3 || c.len() != 2 {
		t.Fatalf("get 3 = %d, %v; len %d", v, ok, c.len())
	}
	// Full of live entries: one goes, the bound holds.
	c.put(k(4), 4, later.Add(time.Hour), later)
	if c.len() != 2 {
		t.Fatalf("len = %d, want 2", c.len())
	}
	if _, ok := c.get(k(4), later); !ok {
		t.Fatal("new entry missing")
	}
	// Overwriting an existing key evicts nothing.
	c.put(k(4), 40, later.Add(time.Hour), later)
	if v, _ := c.get(k(4), later); v != 40 || c.len() != 2 {
		t.Fatalf("overwrite: %d, len %d", v, c.len())
	}
}

func TestBearerTokenSources(t *testing.T) {
	sources, err := validateSources([]Source{{Kind: SourceHeader, Name: "x-access-token"}, {Kind: SourceQuery, Name: "t"}})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/?t=from-query", nil)
	r.Header.Set("X-Access-Token", "bare")
	if tok, ok, _ := bearerToken(r, sources); !ok || tok != "bare" {
		t.Fatalf("token = %q, %v; want the bare header value", tok, ok)
	}
	if r.URL.RawQuery != "" {
		t.Fatalf("query token left in the URL although the header matched first: %q", r.URL.RawQuery)
	}
	r = httptest.NewRequest(http.MethodGet, "/?t=from-query", nil)
	if tok, ok, _ := bearerToken(r, sources); !ok || tok != "from-query" || r.URL.RawQuery != "" {
		t.Fatalf("token = %q, %v; query %q", tok, ok, r.URL.RawQuery)
	}
}
