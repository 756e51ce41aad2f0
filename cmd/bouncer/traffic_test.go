package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// namedBackend answers every request with its name and the path it got,
// as JSON, and counts requests.
type namedBackend struct {
	addr string
	hits atomic.Int64
}

func newNamedBackend(t *testing.T, name string) *namedBackend {
	t.Helper()
	b := &namedBackend{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.hits.Add(1)
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"name": name, "path": r.URL.Path, "body": string(body),
			"shadow": r.Header.Get("X-Bouncer-Shadow"), "id": strings.TrimPrefix(r.URL.Path, "/users/")})
	}))
	t.Cleanup(srv.Close)
	b.addr = strings.TrimPrefix(srv.URL, "http://")
	return b
}

// TestTrafficRoutes runs a canary split with a header rule and a mirror,
// API versions with deprecation headers, and an aggregate of two calls,
// through the binary.
func TestTrafficRoutes(t *testing.T) {
	stable, canary, shadow := newNamedBackend(t, "stable"), newNamedBackend(t, "canary"), newNamedBackend(t, "shadow")
	users, slow := newNamedBackend(t, "users"), httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // never answers within the call's timeout
	}))
	t.Cleanup(slow.Close)
	p := startConfig(t, fmt.Sprintf(`
admin: {address: "127.0.0.1:0"}
listeners:
  - {name: web, address: "127.0.0.1:0"}
routes:
  - match: {prefix: /shop}
    proxy: {upstream: stable}
    split:
      weights: [{upstream: stable, weight: 80}, {upstream: canary, weight: 20}]
      rules: [{header: X-Beta, value: "1", upstream: canary}]
      sticky: header:X-User
    mirror: {upstream: shadow, percent: 100}
  - match: {prefix: /api}
    proxy: {upstream: stable}
    versions:
      from: path
      strip_prefix: true
      default: v2
      versions:
        - {name: v1, upstream: stable, deprecated: "2026-01-01", sunset: "2027-01-01", deprecation_link: "https://example.com/v1"}
        - {name: v2, upstream: canary}
  - match: {template: "/summary/{id}"}
    aggregate:
      on_error: partial
      calls:
        - {name: user, upstream: users, path: "/users/{path.id}", fields: [name, id]}
        - {name: again, upstream: users, path: "/users/{calls.user.body.id}/x"}
        - {name: late, upstream: slow, path: /late, timeout: 300ms, optional: true}
upstreams:
  stable: {endpoints: [%q]}
  canary: {endpoints: [%q]}
  shadow: {endpoints: [%q]}
  users: {endpoints: [%q]}
  slow: {endpoints: [%q]}
`, stable.addr, canary.addr, shadow.addr, users.addr, strings.TrimPrefix(slow.URL, "http://")))
	base := p.url("web")

	if r := send(t, "GET", base+"/shop/x", map[string]string{"X-Beta": "1"}); !strings.Contains(r.body, `"name":"canary"`) {
		t.Fatalf("beta header: %s", r.body)
	}
	sides := map[string]int{}
	for u := range 200 {
		user := fmt.Sprintf("user-%d", u)
		first := send(t, "GET", base+"/shop/x", map[string]string{"X-User": user}).body
		if again := send(t, "GET", base+"/shop/x", map[string]string{"X-User": user}).body; again != first {
			t.Fatalf("%s moved between sides: %s then %s", user, first, again)
		}
		sides[first]++
	}
	if c := sides[`{"body":"","id":"/shop/x","name":"canary","path":"/shop/x","shadow":""}`+"\n"]; c < 20 || c > 70 {
		t.Fatalf("canary got %d of 200 users, want about 40: %v", c, sides)
	}
	eventually(t, 5*time.Second, "shadow copies", func() bool { return shadow.hits.Load() >= 401 })

	r := send(t, "GET", base+"/api/v1/items", nil)
	if !strings.Contains(r.body, `"name":"stable","path":"/api/items"`) || r.header.Get("Deprecation") != "@1767225600" ||
		!strings.Contains(r.header.Get("Sunset"), "2027") || !strings.Contains(r.header.Get("Link"), `rel="deprecation"`) {
		t.Fatalf("v1: %v %s", r.header, r.body)
	}
	if r = send(t, "GET", base+"/api/items", nil); !strings.Contains(r.body, `"name":"canary"`) || r.header.Get("Deprecation") != "" {
		t.Fatalf("default version: %v %s", r.header, r.body)
	}
	if r = send(t, "GET", base+"/api/v9/items", nil); r.status != 404 {
		t.Fatalf("unknown version: %d %s", r.status, r.body)
	}

	r = send(t, "GET", base+"/summary/42", nil)
	var out map[string]any
	if err := json.Unmarshal([]byte(r.body), &out); err != nil || r.status != 200 {
		t.Fatalf("aggregate: %d %s", r.status, r.body)
	}
	user, _ := out["user"].(map[string]any)
	again, _ := out["again"].(map[string]any)
	errs, _ := out["_errors"].(map[string]any)
	if user["name"] != "users" || user["id"] != "42" || user["path"] != nil || again["path"] != "/users/42/x" || errs["late"] == nil {
		t.Fatalf("aggregate result: %s", r.body)
	}
	// An escaped slash stays inside its variable (the route matched it as
	// one segment), and is escaped again in the call's path.
	r = send(t, "GET", base+"/summary/4%2F2", nil)
	if err := json.Unmarshal([]byte(r.body), &out); err != nil || r.status != 200 {
		t.Fatalf("aggregate with %%2F: %d %s", r.status, r.body)
	}
	if user, _ = out["user"].(map[string]any); user["id"] != "4/2" {
		t.Fatalf("aggregate with %%2F: %s, want the call made for id 4/2", r.body)
	}
}

// TestMirrorDrainOnSIGTERM: a shadow request still running when SIGTERM
// arrives is waited for, like the client requests in flight: Bouncer stays
// up (its admin API answers, not ready) until the shadow has answered. So
// is one sent before a reload replaced the mirror.
func TestMirrorDrainOnSIGTERM(t *testing.T) {
	for _, reload := range []bool{false, true} {
		t.Run(fmt.Sprintf("reload=%v", reload), func(t *testing.T) { mirrorDrain(t, reload) })
	}
}

func mirrorDrain(t *testing.T, reload bool) {
	primary := newNamedBackend(t, "primary")
	arrived, release, outcome := make(chan struct{}, 1), make(chan struct{}), make(chan string, 1)
	shadow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-release:
			w.WriteHeader(http.StatusNoContent)
			outcome <- "answered"
		case <-r.Context().Done():
			outcome <- "cancelled"
		}
	}))
	t.Cleanup(shadow.Close)
	const text = `
admin: {address: "127.0.0.1:0"}
server: {shutdown_timeout: 20s}
listeners:
  - {name: web, address: "127.0.0.1:0"}
routes:
  - proxy: {upstream: primary}
    mirror: {upstream: shadow, percent: %d, timeout: 30s}
upstreams:
  primary: {endpoints: [%q]}
  shadow: {endpoints: [%q]}
`
	path, target := unwatchedConfig(t, fmt.Sprintf(text, 100, primary.addr, strings.TrimPrefix(shadow.URL, "http://")))
	p := startBouncer(t, path)
	if r := send(t, "GET", p.url("web")+"/x", nil); r.status != http.StatusOK {
		t.Fatalf("primary: %d %s", r.status, r.body)
	}
	<-arrived
	if reload { // the new mirror samples at 99%: a new generation, nothing in flight
		writeFile(t, target, fmt.Sprintf(text, 99, primary.addr, strings.TrimPrefix(shadow.URL, "http://")))
		p.signal(syscall.SIGHUP)
		p.waitStatus("reloaded", func(s reloadStatus) bool { return s.Reloads >= 1 })
	}
	p.signal(syscall.SIGTERM)
	// The admin API closes last: answering "not ready" twice shows the
	// drain under way and not over.
	eventually(t, 10*time.Second, "draining", func() bool { code, _ := p.adminGet("/readyz"); return code == http.StatusServiceUnavailable })
	if code, _ := p.adminGet("/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("readyz during the drain: %d", code)
	}
	close(release)
	if got := <-outcome; got != "answered" {
		t.Errorf("the shadow request was %s", got)
	}
	if code := p.waitExit(15 * time.Second); code != 0 {
		t.Errorf("exit code %d", code)
	}
}

// TestAggregateBreakerKeptOnReload: an aggregate route's open breaker
// stays open across a reload that changes something else, so the failing
// backend is not called again before the cooldown; a route without a name
// is known by its place in the file.
func TestAggregateBreakerKeptOnReload(t *testing.T) {
	for _, name := range []string{"name: summary\n    ", ""} {
		t.Run(fmt.Sprintf("named=%v", name != ""), func(t *testing.T) { aggregateBreakerReload(t, name) })
	}
}

func aggregateBreakerReload(t *testing.T, name string) {
	var hits atomic.Int32
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
	}))
	t.Cleanup(failing.Close)
	const text = `
admin: {address: "127.0.0.1:0"}
listeners:
  - {name: web, address: "127.0.0.1:0"}
routes:
  - %smatch: {prefix: /summary}
    aggregate:
      on_error: partial
      breaker_threshold: 1
      breaker_cooldown: 1h
      calls: [{name: users, upstream: users, path: /u}]
  - {match: {prefix: /hello}, respond: {body: %q}}
upstreams:
  users: {endpoints: [%q]}
`
	backend := strings.TrimPrefix(failing.URL, "http://")
	path, target := unwatchedConfig(t, fmt.Sprintf(text, name, "v1", backend))
	p := startBouncer(t, path)
	base := p.url("web")
	message := func() string {
		r := send(t, "GET", base+"/summary", nil)
		var body struct {
			Errors map[string]struct {
				Message string `json:"message"`
			} `json:"_errors"`
		}
		if err := json.Unmarshal([]byte(r.body), &body); err != nil {
			t.Fatalf("summary: %d %s", r.status, r.body)
		}
		return body.Errors["users"].Message
	}
	if m := message(); m != "status 500" || hits.Load() != 1 {
		t.Fatalf("first call: %q, %d hits", m, hits.Load())
	}
	writeFile(t, target, fmt.Sprintf(text, name, "v2", backend))
	p.signal(syscall.SIGHUP)
	p.waitStatus("reloaded", func(s reloadStatus) bool { return s.Reloads >= 1 })
	if r := send(t, "GET", base+"/hello", nil); r.body != "v2" {
		t.Fatalf("after the reload: %q", r.body)
	}
	if m := message(); m != "circuit open" || hits.Load() != 1 {
		t.Errorf("after the reload: %q, %d hits; want the breaker still open", m, hits.Load())
	}
}
