package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/bouncer-proxy/bouncer/bench/internal/harness"
)

func TestDerivedPolicies(t *testing.T) {
	got := derivedPolicies([]harness.Target{
		{Name: "bouncer", PID: 3, Addrs: map[string]string{"h1": "a:1", "pol": "a:1", "polredis": "a:1"}},
		{Name: "other", PID: 4, Addrs: map[string]string{"pol": "a:2"}},
		{Name: "nginx", PID: 5, Addrs: map[string]string{"h1": "a:3", "polredis": "a:3"}}, // no pol: nothing
	})
	want := []struct{ name, key, addr string }{
		{"bouncer/policies", keyPolLocal, "a:1"}, {"bouncer/redis", keyPolRedisJob, "a:1"}, {"other/policies", keyPolLocal, "a:2"},
	}
	if len(got) != len(want) {
		t.Fatalf("derived %+v", got)
	}
	for i, w := range want {
		if got[i].Name != w.name || got[i].Addrs[w.key] != w.addr || len(got[i].Addrs) != 1 {
			t.Errorf("derived[%d] = %+v, want %s with %s=%s", i, got[i], w.name, w.key, w.addr)
		}
	}
	if got[0].PID != 3 || got[2].PID != 4 {
		t.Errorf("derived targets must keep their process: %+v", got)
	}
}

func writeToken(t *testing.T, text string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "jwt-token")
	if err := os.WriteFile(f, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestParseFlagsPolicies(t *testing.T) {
	tok := writeToken(t, "abc.def.ghi\n")
	p, err := parseFlags([]string{
		"-target", "nginx,pid=4,h1=127.0.0.1:1,cache=127.0.0.1:1",
		"-target", "bouncer,pid=5,h1=127.0.0.1:2,pol=127.0.0.1:2,polredis=127.0.0.1:2,cache=127.0.0.1:2",
		"-scenarios", "http1-cache,http1-policies,http1-small", "-jwt-token", tok, "-out", "x.md"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tg := range p.Targets {
		names = append(names, tg.Name)
	}
	if strings.Join(names, " ") != "nginx bouncer bouncer/policies bouncer/redis" {
		t.Fatalf("targets %q", names)
	}
	if len(p.Scenarios) != 5 || p.Scenarios[0].Name != "http1-small" || p.Scenarios[4].Name != "http1-cache" {
		t.Fatalf("scenarios %+v", p.Scenarios)
	}
	for _, s := range p.Scenarios {
		auth := len(s.Headers) == 1 && s.Headers[0] == "Authorization: Bearer abc.def.ghi"
		if needsToken(s) != auth || (len(s.Headers) > 0 && !auth) {
			t.Errorf("%s on %s: headers %q", s.Name, s.Listener, s.Headers)
		}
	}
	if p.Refs["http1-policies"] != "bouncer" || p.Refs["http1-cache"] != "nginx" || !p.LatencyMS ||
		p.RefKnob != "ref=nginx ref_policies=bouncer" {
		t.Fatalf("refs %v knob %q latency %v", p.Refs, p.RefKnob, p.LatencyMS)
	}
	// The shared table must not lose its token between runs of parseFlags.
	if len(allScenarios[len(scenarios)+1].Headers) != 0 {
		t.Error("parseFlags changed the scenario table")
	}
	for _, bad := range [][]string{
		{"-target", "b,pid=1,pol=127.0.0.1:1", "-scenarios", "http1-policies", "-out", "x.md"},
		{"-target", "b,pid=1,pol=127.0.0.1:1", "-scenarios", "http1-policies", "-out", "x.md", "-jwt-token", writeToken(t, " \n")},
		{"-target", "b,pid=1,pol=127.0.0.1:1", "-scenarios", "http1-policies", "-out", "x.md", "-jwt-token", "/nonexistent/t"},
		{"-target", "b,pid=1,pol-local=127.0.0.1:1", "-scenarios", "http1-policies", "-out", "x.md", "-jwt-token", tok},
	} {
		if _, err := parseFlags(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// policyHandler is a policy route as the check expects it: 401 without the
// bearer token, 64 bytes and a RateLimit-Policy header with it. limit
// false leaves the header out.
func policyHandler(limit bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.Header().Set("WWW-Authenticate", "Bearer")
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if limit {
			w.Header().Set("RateLimit-Policy", `"limit-1";q=10000000;w=1`)
		}
		w.Write([]byte(strings.Repeat("x", 64)))
	})
}

// cacheHandler answers 64 bytes; the header says a miss the first time and
// a hit afterwards, unless never.
func cacheHandler(header, miss, hit string, never bool) http.Handler {
	var n atomic.Int32
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 || never {
			w.Header().Set(header, miss)
		} else {
			w.Header().Set(header, hit)
		}
		w.Write([]byte(strings.Repeat("x", 64)))
	})
}

func TestCheckerPolicies(t *testing.T) {
	byListener := func(l string) harness.Scenario {
		for _, s := range policyScenarios {
			if s.Listener == l {
				return s
			}
		}
		t.Fatalf("no scenario on %s", l)
		return harness.Scenario{}
	}
	local, redis, cache := byListener(keyPolLocal), byListener(keyPolRedisJob), byListener(keyCache)
	local.Headers = []string{"Authorization: Bearer tok"}
	redis.Headers = local.Headers
	noAuth := local
	noAuth.Headers = nil
	open := func(h http.Handler) string {
		s := httptest.NewServer(h)
		t.Cleanup(s.Close)
		return strings.TrimPrefix(s.URL, "http://")
	}
	mux := func(h http.Handler) string {
		m := http.NewServeMux()
		m.Handle("/p/64", h)
		m.Handle("/r/64", h)
		m.Handle("/cache/64", h)
		return open(m)
	}
	tests := []struct {
		name    string
		scen    harness.Scenario
		addr    string
		wantErr bool
	}{
		{"jwt and limit", local, mux(policyHandler(true)), false},
		{"redis route", redis, mux(policyHandler(true)), false},
		{"no limit header", local, mux(policyHandler(false)), true},
		{"token not sent", noAuth, mux(policyHandler(true)), true},
		{"no jwt check", local, mux(cacheHandler("RateLimit-Policy", "x", "x", false)), true},
		{"bouncer hit", cache, mux(cacheHandler("Cache-Status", "bouncer; fwd=miss; stored", "bouncer; hit", false)), false},
		{"nginx hit", cache, mux(cacheHandler("X-Cache-Status", "MISS", "HIT", false)), false},
		{"never a hit", cache, mux(cacheHandler("X-Cache-Status", "MISS", "HIT", true)), true},
		{"no cache header", cache, mux(policyHandler(true)), true},
	}
	c := checker{}
	for _, tc := range tests {
		err := c.Check(t.Context(), harness.Job{Scenario: tc.scen}, tc.addr)
		if (err != nil) != tc.wantErr {
			t.Errorf("%s: err %v, want error %v", tc.name, err, tc.wantErr)
		}
	}
}
