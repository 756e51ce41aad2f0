package l7_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/bouncer-proxy/bouncer/configs"
	"github.com/bouncer-proxy/bouncer/l7"
)

// TestRedirect checks redirects built from the request: each field
// replaces its part, the rest (and the query) is kept.
func TestRedirect(t *testing.T) {
	routes := `  - match: {prefix: /abs}
    redirect: {url: "https://example.com/new?x=1", status: 301}
  - match: {prefix: /secure}
    redirect: {scheme: https}
  - match: {prefix: /move}
    redirect: {host: "other.test:8443", status: 307}
  - match: {prefix: /old}
    redirect: {path: /landing, status: 308}
  - match: {prefix: /all}
    redirect: {scheme: https, host: all.test, path: /x, status: 303}
`
	g := startTestGateway(t, gatewayConfig("", routes), gatewayOptions{})
	c := client(t)
	tests := []struct {
		path     string
		status   int
		location string
	}{
		{"/abs/anything?q=2", 301, "https://example.com/new?x=1"},
		{"/secure/page?q=1&r=2", 302, "https://site.test/secure/page?q=1&r=2"},
		{"/secure/a%2Fb", 302, "https://site.test/secure/a%2Fb"},
		{"/move/it?q", 307, "http://other.test:8443/move/it?q"},
		{"/old/page?keep=yes", 308, "http://site.test/landing?keep=yes"},
		{"/all/of/it?z=9", 303, "https://all.test/x?z=9"},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			r := send(t, c, "GET", g.URL+tc.path, nil, "Host", "site.test")
			if r.Status != tc.status || r.Header.Get("Location") != tc.location {
				t.Errorf("got %d Location %q, want %d %q", r.Status, r.Header.Get("Location"), tc.status, tc.location)
			}
			if r.Body != "" || r.Header.Get("Content-Length") != "0" {
				t.Errorf("redirect body %q, Content-Length %q", r.Body, r.Header.Get("Content-Length"))
			}
		})
	}
}

// TestRespond checks direct responses: status, body, content type, HEAD.
func TestRespond(t *testing.T) {
	routes := `  - match: {path: /hello}
    respond: {body: "hello\n"}
  - match: {path: /json}
    respond: {status: 418, body: '{"teapot":true}', content_type: application/json}
  - match: {path: /empty}
    respond: {status: 204}
`
	g := startTestGateway(t, gatewayConfig("", routes), gatewayOptions{})
	c := client(t)
	tests := []struct {
		method, path string
		status       int
		body, ctype  string
	}{
		{"GET", "/hello", 200, "hello\n", "text/plain; charset=utf-8"},
		{"HEAD", "/hello", 200, "", "text/plain; charset=utf-8"},
		{"POST", "/json", 418, `{"teapot":true}`, "application/json"},
		{"GET", "/empty", 204, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.method+tc.path, func(t *testing.T) {
			var r gwResult
			if tc.method == "POST" {
				r = send(t, c, tc.method, g.URL+tc.path, strings.NewReader("ignored body"))
			} else {
				r = send(t, c, tc.method, g.URL+tc.path, nil)
			}
			if r.Status != tc.status || r.Body != tc.body || r.Header.Get("Content-Type") != tc.ctype {
				t.Errorf("got %d %q %q, want %d %q %q", r.Status, r.Body, r.Header.Get("Content-Type"), tc.status, tc.body, tc.ctype)
			}
		})
	}
}

// TestRewriteThroughGateway checks strip_prefix, path and regex rewrites
// as the terminal sees them, with the query kept.
func TestRewriteThroughGateway(t *testing.T) {
	routes := `  - match: {prefix: /strip/}
    rewrite: {strip_prefix: /strip}
    proxy: {upstream: app}
  - match: {prefix: /fixed}
    rewrite: {path: /target}
    proxy: {upstream: app}
  - match: {prefix: /re/}
    rewrite: {regex: {pattern: "^/re/([a-z]+)/([0-9]+)$", replacement: "/$2/$1"}}
    proxy: {upstream: app}
`
	g := startTestGateway(t, gatewayConfig("", routes), gatewayOptions{})
	c := client(t)
	tests := []struct{ sent, path, query string }{
		{"/strip/a/b?x=1", "/a/b", "x=1"},
		{"/strip/", "/", ""},
		{"/strip/%E2%9C%93", "/%E2%9C%93", ""},
		{"/fixed/whatever?y", "/target", "y"},
		{"/re/users/42?z=0", "/42/users", "z=0"},
		{"/re/no-match", "/re/no-match", ""},
	}
	for _, tc := range tests {
		e := decodeEchoed(t, send(t, c, "GET", g.URL+tc.sent, nil))
		if e.Path != tc.path || e.Query != tc.query {
			t.Errorf("%s: terminal saw %q ? %q, want %q ? %q", tc.sent, e.Path, e.Query, tc.path, tc.query)
		}
	}
}

// TestRouteHeaderChanges checks request_headers and response_headers on a
// route, including on a direct response.
func TestRouteHeaderChanges(t *testing.T) {
	routes := `  - match: {prefix: /api/}
    proxy: {upstream: app}
    request_headers: {remove: [X-Drop], set: {X-Env: prod}, add: {X-Via: bouncer}}
    response_headers: {set: {Cache-Control: no-cache}, add: {X-Served-By: test}}
  - match: {path: /}
    respond: {body: ok}
    response_headers: {set: {X-Frame-Options: DENY}, remove: [X-Request-Id]}
`
	g := startTestGateway(t, gatewayConfig("", routes), gatewayOptions{})
	c := client(t)
	r := send(t, c, "GET", g.URL+"/api/x", nil, "X-Drop", "1", "X-Env", "dev", "X-Via", "client")
	e := decodeEchoed(t, r)
	if _, ok := e.Header["X-Drop"]; ok {
		t.Error("X-Drop reached the terminal")
	}
	if got := e.Header.Values("X-Env"); !slices.Equal(got, []string{"prod"}) {
		t.Errorf("X-Env = %q", got)
	}
	if got := e.Header.Values("X-Via"); !slices.Equal(got, []string{"client", "bouncer"}) {
		t.Errorf("X-Via = %q", got)
	}
	if r.Header.Get("Cache-Control") != "no-cache" || r.Header.Get("X-Served-By") != "test" {
		t.Errorf("response headers %v", r.Header)
	}
	r = send(t, c, "GET", g.URL+"/", nil)
	if r.Header.Get("X-Frame-Options") != "DENY" || r.Header.Get("X-Request-Id") != "" || r.Body != "ok" {
		t.Errorf("respond route: %v %q", r.Header, r.Body)
	}
}

// TestHeaderOpsOrder checks remove, then set, then add, with names
// canonicalized at compile time.
func TestHeaderOpsOrder(t *testing.T) {
	ops := l7.NewHeaderOps(&configs.HeaderChanges{
		Remove: []string{"x-a", "x-gone"},
		Set:    map[string]string{"x-a": "set"},
		Add:    map[string]string{"x-a": "added", "x-new": "n"},
	})
	h := http.Header{"X-A": {"orig"}, "X-Gone": {"1"}, "X-Other": {"kept"}}
	ops.Apply(h)
	want := http.Header{"X-A": {"set", "added"}, "X-New": {"n"}, "X-Other": {"kept"}}
	if len(h) != len(want) {
		t.Fatalf("got %v, want %v", h, want)
	}
	for k, v := range want {
		if !slices.Equal(h[k], v) {
			t.Errorf("%s = %q, want %q", k, h[k], v)
		}
	}
}

// TestRewriterApply checks the Rewriter directly on requests whose paths
// need escaping.
func TestRewriterApply(t *testing.T) {
	tests := []struct {
		name string
		rw   configs.Rewrite
		in   string
		want string
	}{
		{"strip keeps slash", configs.Rewrite{StripPrefix: "/api"}, "/api/v1", "/v1"},
		{"strip of other prefix is a no-op", configs.Rewrite{StripPrefix: "/api"}, "/web/v1", "/web/v1"},
		{"strip whole path", configs.Rewrite{StripPrefix: "/api"}, "/api", "/"},
		{"strip keeps escapes", configs.Rewrite{StripPrefix: "/api"}, "/api/a%2Fb%20c", "/a%2Fb%20c"},
		{"path", configs.Rewrite{Path: "/x/y"}, "/anything", "/x/y"},
		{"regex adds leading slash", configs.Rewrite{Regex: &configs.RegexRewrite{Pattern: "^/v1/", Replacement: ""}}, "/v1/items", "/items"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rw, err := l7.NewRewriter(&tc.rw)
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest("GET", "http://h"+tc.in+"?q=1", nil)
			rw.Apply(r)
			if got := r.URL.EscapedPath(); got != tc.want || r.URL.RawQuery != "q=1" {
				t.Errorf("path %q query %q, want %q q=1", got, r.URL.RawQuery, tc.want)
			}
		})
	}
	if _, err := l7.NewRewriter(&configs.Rewrite{Regex: &configs.RegexRewrite{Pattern: "("}}); err == nil {
		t.Error("bad regex compiled")
	}
}
