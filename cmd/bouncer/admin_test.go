package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bouncer-proxy/bouncer/l4/upstream"
)

// echoBackend answers 200 with its name and the path it was asked for.
func echoBackend(t *testing.T, name string) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("X-Backend", name)
		fmt.Fprintf(w, "%s %s", name, r.URL.Path)
	}))
	t.Cleanup(s.Close)
	return s
}

func TestAdminAPI(t *testing.T) {
	t.Parallel()
	a, b := echoBackend(t, "a"), echoBackend(t, "b")
	path := filepath.Join(t.TempDir(), "bouncer.yaml")
	writeFile(t, path, fmt.Sprintf(`
admin: {address: "127.0.0.1:0"}
listeners:
  - {name: web, address: "127.0.0.1:0"}
routes:
  - name: api
    match: {prefix: /api/}
    proxy: {upstream: app}
    request_headers: {set: {Authorization: "Bearer upstream-s3cret"}}
upstreams:
  app:
    endpoints: [%s, %s]
    health_check: {path: /healthz, interval: 1h}
`, hostPort(a.URL), hostPort(b.URL)))
	p := startBouncer(t, path)
	if code, body := httpDo(t, http.MethodGet, p.url("web")+"/api/x"); code != http.StatusOK || !strings.HasSuffix(body, " /api/x") {
		t.Fatalf("GET /api/x through bouncer: %d %q", code, body)
	}

	for _, tc := range adminChecks(path) {
		t.Run(tc.path, func(t *testing.T) { checkAdmin(t, p, tc) })
	}

	t.Run("/upstreams", func(t *testing.T) { checkUpstreams(t, p, hostPort(a.URL), hostPort(b.URL)) })

	t.Run("web pages kept out", func(t *testing.T) { checkAdminGuard(t, p.admin) })

	t.Run("/config hides secrets", func(t *testing.T) {
		code, body := p.adminGet("/config")
		if code != http.StatusOK || strings.Contains(body, "upstream-s3cret") || !strings.Contains(body, "Authorization: '[redacted]'") {
			t.Errorf("GET /config: %d, want the Authorization value redacted:\n%s", code, body)
		}
	})

	t.Run("unknown path and wrong method", func(t *testing.T) {
		if code, _ := p.adminGet("/nope"); code != http.StatusNotFound {
			t.Errorf("GET /nope: %d, want 404", code)
		}
		if code, _ := httpDo(t, http.MethodGet, p.admin+"/reload"); code != http.StatusMethodNotAllowed {
			t.Errorf("GET /reload: %d, want 405", code)
		}
		// a name the operator got wrong is their mistake, not a gateway failure
		if code, body := httpDo(t, http.MethodPost, p.admin+"/descriptors/refresh?upstream=nope"); code != http.StatusNotFound || !strings.Contains(body, `nope`) {
			t.Errorf("POST /descriptors/refresh?upstream=nope: %d %s, want 404 naming it", code, body)
		}
	})
}

// adminCheck is what one admin path must show.
type adminCheck struct {
	path string
	want []*regexp.Regexp
}

// adminChecks are the admin documents after one request on route api of
// the config at path.
func adminChecks(path string) []adminCheck {
	return []adminCheck{
		{"/healthz", []*regexp.Regexp{regexp.MustCompile(`"status": "ok"`)}},
		{"/readyz", []*regexp.Regexp{regexp.MustCompile(`"status": "ready"`)}},
		{"/metrics", []*regexp.Regexp{
			regexp.MustCompile(`(?m)^bouncer_http_requests_total\{[^}]*listener="web"[^}]*route="api"[^}]*\} 1$`),
			regexp.MustCompile(`(?m)^bouncer_config_generation 1$`),
			regexp.MustCompile(`(?m)^bouncer_upstream_requests_total\{[^}]*upstream="app"[^}]*\} 1$`),
		}},
		{"/config", []*regexp.Regexp{ // effective: defaults the file leaves out are filled in
			regexp.MustCompile(`(?m)^# effective config of ` + regexp.QuoteMeta(path) + `$`),
			regexp.MustCompile(`(?m)^\s+request_id_header: X-Request-Id$`),
			regexp.MustCompile(`(?m)^\s+shutdown_timeout: 30s$`),
			regexp.MustCompile(`(?m)^\s+max_concurrent_streams: 250$`),
			regexp.MustCompile(`(?m)^\s+balance: round_robin$`),
			regexp.MustCompile(`(?m)^\s+unhealthy_threshold: 3$`),
			regexp.MustCompile(`(?m)^\s+- name: api$`),
		}},
		{"/status", []*regexp.Regexp{regexp.MustCompile(`"generation": 1,`), regexp.MustCompile(`"failures": 0`)}},
		{"/debug/pprof/", []*regexp.Regexp{regexp.MustCompile(`goroutine`), regexp.MustCompile(`heap`)}},
	}
}

// checkUpstreams: /upstreams lists upstream app with the endpoints addrs,
// healthy and ready, and the one request they served.
func checkUpstreams(t *testing.T, p *proc, addrs ...string) {
	t.Helper()
	var doc struct {
		Upstreams []upstream.ClusterStatus `json:"upstreams"`
	}
	var body string
	eventually(t, 5*time.Second, "one request counted in /upstreams", func() bool {
		var code int
		code, body = p.adminGet("/upstreams")
		if code != http.StatusOK || json.Unmarshal([]byte(body), &doc) != nil {
			t.Fatalf("GET /upstreams: %d %s", code, body)
		}
		var n uint64
		for _, u := range doc.Upstreams {
			for _, e := range u.Endpoints {
				n += e.Requests
			}
		}
		return n > 0
	})
	if len(doc.Upstreams) != 1 || doc.Upstreams[0].Name != "app" || doc.Upstreams[0].Ready != 2 {
		t.Fatalf("upstreams = %s, want app with 2 ready endpoints", body)
	}
	got := map[string]upstream.EndpointStatus{}
	var requests uint64
	for _, e := range doc.Upstreams[0].Endpoints {
		got[e.Address] = e
		requests += e.Requests
	}
	for _, addr := range addrs {
		if e, ok := got[addr]; !ok || !e.Healthy || !e.Ready || e.Weight != 1 {
			t.Errorf("endpoint %s = %+v, want healthy, ready, weight 1", addr, e)
		}
	}
	if requests != 1 {
		t.Errorf("endpoints served %d requests, want 1", requests)
	}
}

// checkAdmin fetches tc.path until it shows everything tc wants (polled:
// the metrics of a request may be recorded just after the client has its
// response) and reports what is missing.
func checkAdmin(t *testing.T, p *proc, tc adminCheck) {
	t.Helper()
	var code int
	var body string
	matched := func() bool {
		code, body = p.adminGet(tc.path)
		for _, re := range tc.want {
			if !re.MatchString(body) {
				return false
			}
		}
		return code == http.StatusOK
	}
	poll(5*time.Second, matched)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", tc.path, code, body)
	}
	for _, re := range tc.want {
		if !re.MatchString(body) {
			t.Errorf("GET %s lacks %s:\n%s", tc.path, re, body)
		}
	}
}

// checkAdminGuard: a DNS-rebound Host and cross-origin posts are refused;
// localhost, IP literals and same-origin posts are not.
func checkAdminGuard(t *testing.T, admin string) {
	t.Helper()
	port := admin[strings.LastIndexByte(admin, ':')+1:]
	cases := []struct {
		method, host string
		header       map[string]string
		want         int
	}{
		{"GET", "evil.example:" + port, nil, http.StatusForbidden},
		{"GET", "evil.example", nil, http.StatusForbidden},
		{"GET", "localhost:" + port, nil, http.StatusOK},
		{"GET", "127.0.0.1:" + port, nil, http.StatusOK},
		{"GET", "[::1]:" + port, nil, http.StatusOK},
		{"POST", "127.0.0.1:" + port, map[string]string{"Origin": "http://evil.example"}, http.StatusForbidden},
		{"POST", "127.0.0.1:" + port, map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"POST", "127.0.0.1:" + port, map[string]string{"Origin": "http://127.0.0.1:" + port}, http.StatusOK},
		{"POST", "127.0.0.1:" + port, nil, http.StatusOK}, // curl
	}
	for _, tc := range cases {
		path := "/config"
		if tc.method == "POST" {
			path = "/reload"
		}
		req, err := http.NewRequest(tc.method, admin+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = tc.host
		for k, v := range tc.header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s Host %s %v: %d %s, want %d", tc.method, path, tc.host, tc.header, resp.StatusCode, body, tc.want)
		}
		if tc.want == http.StatusForbidden && !strings.Contains(string(body), `"error"`) {
			t.Errorf("%s %s Host %s: body %s, want a JSON error", tc.method, path, tc.host, body)
		}
	}
}
