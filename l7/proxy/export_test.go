package proxy

import (
	"net/http"
)

// StdH1 returns the net/http transport behind an http1 upstream's lean
// transport, for comparisons; other transports are returned as they are.
func StdH1(rt http.RoundTripper) http.RoundTripper {
	if t, ok := rt.(*h1Transport); ok {
		return t.fallback
	}
	return rt
}
