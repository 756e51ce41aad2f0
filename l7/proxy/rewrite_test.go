package proxy_test

import (
	"fmt"
	"net/http"
	"testing"
)

// TestRewrite checks the path the upstream receives after a route's
// rewrite, with the query kept and escapes preserved.
func TestRewrite(t *testing.T) {
	tests := []struct {
		name      string
		match     string
		rewrite   string
		path      string // sent, with query
		wantPath  string // escaped path at the upstream
		wantQuery string
	}{
		{"strip_prefix", "{prefix: /api/}", "{strip_prefix: /api}", "/api/users/7?x=1&y=2", "/users/7", "x=1&y=2"},
		{"strip_prefix to the root", "{prefix: /api}", "{strip_prefix: /api}", "/api", "/", ""},
		{"strip_prefix keeps escapes", "{prefix: /api/}", "{strip_prefix: /api}", "/api/a%2Fb/c%20d", "/a%2Fb/c%20d", ""},
		{"strip_prefix after normalization", "{prefix: /api/}", "{strip_prefix: /api}", "/api/./x//y", "/x/y", ""},
		{"path", "{prefix: /old}", "{path: /new/place}", "/old/anything?q=1", "/new/place", "q=1"},
		{"regex", "{prefix: /v1/}", `{regex: {pattern: "^/v1/(.*)$", replacement: "/v2/$1"}}`, "/v1/items/7?z", "/v2/items/7", "z"},
		{"regex named group", "{prefix: /u/}", `{regex: {pattern: "^/u/(?P<id>[0-9]+)$", replacement: "/users/${id}/profile"}}`, "/u/42", "/users/42/profile", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBackend(t, echo)
			g := startGateway(t, fmt.Sprintf(`admin: {address: "off"}
listeners:
  - name: web
    address: 127.0.0.1:0
upstreams:
  app: {endpoints: [%s]}
routes:
  - match: %s
    rewrite: %s
    proxy: {upstream: app}
`, b.Addr, tc.match, tc.rewrite))
			s := decodeSeen(t, do(t, newClient(t), newRequest(t, http.MethodGet, g.URL+tc.path, nil)))
			if s.Path != tc.wantPath || s.Query != tc.wantQuery {
				t.Errorf("upstream got path %q query %q (URI %q), want %q %q", s.Path, s.Query, s.RequestURI, tc.wantPath, tc.wantQuery)
			}
		})
	}
}
