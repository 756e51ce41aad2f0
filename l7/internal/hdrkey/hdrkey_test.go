package hdrkey

import (
	"net/http"
	"strings"
	"testing"
)

func TestCanonicalAgreesWithNetHTTP(t *testing.T) {
	names := []string{"content-type", "Content-Type", "CONTENT-TYPE", "x-custom-thing", "x-", "a", "te",
		"grpc-status-details-bin", "x-b3-traceid", "www-authenticate", strings.Repeat("ab-", 30)}
	for k := range common {
		names = append(names, k, strings.ToLower(k), strings.ToUpper(k))
	}
	for _, n := range names {
		if got, want := Canonical(n), http.CanonicalHeaderKey(n); got != want {
			t.Errorf("Canonical(%q) = %q, want %q", n, got, want)
		}
	}
}

func TestCanonicalDoesNotAllocate(t *testing.T) {
	for _, n := range []string{"content-type", "Content-Type", "x-request-id", "X-Custom"} {
		if a := testing.AllocsPerRun(100, func() { _ = Canonical(n) }); a != 0 {
			t.Errorf("Canonical(%q): %v allocations", n, a)
		}
	}
}

func TestLower(t *testing.T) {
	for _, n := range []string{"Content-Type", "X-Custom", "Alt-Svc", "Grpc-Status"} {
		if got := Lower(n); got != strings.ToLower(n) {
			t.Errorf("Lower(%q) = %q", n, got)
		}
	}
	if a := testing.AllocsPerRun(100, func() { _ = Lower("Content-Type") }); a != 0 {
		t.Errorf("Lower of a common name: %v allocations", a)
	}
}

func FuzzCanonical(f *testing.F) {
	f.Add("content-type")
	f.Add("X-FORWARDED-for")
	f.Fuzz(func(t *testing.T, n string) {
		for i := 0; i < len(n); i++ {
			if c := n[i]; !(c == '-' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
				return // the valid token bytes that CanonicalHeaderKey changes case in
			}
		}
		if got, want := Canonical(n), http.CanonicalHeaderKey(n); got != want {
			t.Fatalf("Canonical(%q) = %q, want %q", n, got, want)
		}
	})
}
