package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/bouncer-proxy/bouncer/bench/internal/harness"
)

// Listener keys of the API-policy scenarios. A target given keyPol (its
// plain HTTP/1.1 address, where it also serves the policy routes) gets the
// plain /64 job of http1-policies and a derived target "name/policies"
// (keyPolLocal: JWT + local rate limit, /p/64); with keyPolRedis as well,
// "name/redis" (keyPolRedisJob: JWT + Redis rate limit, /r/64). keyCache
// is a target's HTTP/1.1 address where /cache/ goes through its cache.
const (
	keyPol         = "pol"
	keyPolRedis    = "polredis"
	keyPolLocal    = "pol-local"
	keyPolRedisJob = "pol-redis"
	keyCache       = "cache"
)

// policyScenarios are http1-policies (one table: the plain route and the
// same proxying behind a JWT check and a rate limit, local or in Redis,
// each route stripping its prefix so the backend gets /64) and http1-cache
// (a 64 B answer the backend marks cacheable, served from the target's
// cache). wrk as in http1-small; the policy routes get the bearer token.
var policyScenarios = []harness.Scenario{
	{Name: "http1-policies", Listener: keyPol, Scheme: "http", Path: "/64", Size: 64, Latency: "p99_ms"},
	{Name: "http1-policies", Listener: keyPolLocal, Scheme: "http", Path: "/p/64", Size: 64, Latency: "p99_ms"},
	{Name: "http1-policies", Listener: keyPolRedisJob, Scheme: "http", Path: "/r/64", Size: 64, Latency: "p99_ms"},
	{Name: "http1-cache", Listener: keyCache, Scheme: "http", Path: "/cache/64", Size: 64, Latency: "p99_ms"},
}

// needsToken reports whether the scenario's requests carry the bearer token.
func needsToken(s harness.Scenario) bool {
	return s.Listener == keyPolLocal || s.Listener == keyPolRedisJob
}

// derivedPolicies returns, for every target with a keyPol listener, the
// target "name/policies" and, with keyPolRedis, "name/redis": the same
// process (so the same CPU accounting) loaded on its policy routes.
func derivedPolicies(targets []harness.Target) []harness.Target {
	var out []harness.Target
	for _, t := range targets {
		if a := t.Addrs[keyPol]; a != "" {
			out = append(out, harness.Target{Name: t.Name + "/policies", PID: t.PID,
				Addrs: map[string]string{keyPolLocal: a}})
		}
		if a := t.Addrs[keyPolRedis]; a != "" && t.Addrs[keyPol] != "" {
			out = append(out, harness.Target{Name: t.Name + "/redis", PID: t.PID,
				Addrs: map[string]string{keyPolRedisJob: a}})
		}
	}
	return out
}

// withToken gives the token-carrying scenarios the Authorization header of
// the token in file (trimmed). An empty file name is an error only when
// such a scenario is picked.
func withToken(scens []harness.Scenario, file string) ([]harness.Scenario, error) {
	var token string
	for i, s := range scens {
		if !needsToken(s) {
			continue
		}
		if token == "" {
			if file == "" {
				return nil, fmt.Errorf("scenario %s needs -jwt-token", s.Name)
			}
			b, err := os.ReadFile(file)
			if err != nil {
				return nil, fmt.Errorf("read token: %w", err)
			}
			if token = strings.TrimSpace(string(b)); token == "" {
				return nil, fmt.Errorf("token file %s is empty", file)
			}
		}
		scens[i].Headers = []string{"Authorization: Bearer " + token}
	}
	return scens, nil
}

// checkPolicyRoute checks that the policies of a token route really run:
// without the token the answer is 401, with it (the answer the caller
// already checked) a RateLimit-Policy header says the limit counted it.
func checkPolicyRoute(ctx context.Context, rt http.RoundTripper, url string, withToken *http.Response) error {
	if withToken.Header.Get("RateLimit-Policy") == "" {
		return fmt.Errorf("get %s: no RateLimit-Policy header: is the rate limit on?", url)
	}
	resp, _, err := get(ctx, rt, url, nil)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusUnauthorized {
		return fmt.Errorf("get %s without a token: status %d, want 401", url, resp.StatusCode)
	}
	return nil
}

// checkCacheHit asks again for what the caller just fetched and checks that
// the answer says it came from the cache: Cache-Status (RFC 9211, Bouncer)
// with "hit", or X-Cache-Status (NGINX's $upstream_cache_status) HIT.
func checkCacheHit(ctx context.Context, rt http.RoundTripper, url string, size int) error {
	resp, body, err := get(ctx, rt, url, nil)
	if err != nil {
		return err
	}
	cs, xcs := resp.Header.Get("Cache-Status"), resp.Header.Get("X-Cache-Status")
	switch {
	case resp.StatusCode != http.StatusOK || len(body) != size:
		return fmt.Errorf("get %s again: status %d, %d bytes", url, resp.StatusCode, len(body))
	case strings.Contains(strings.ToLower(cs), "hit") || strings.EqualFold(xcs, "HIT"):
		return nil
	}
	return fmt.Errorf("get %s again: not a cache hit (Cache-Status %q, X-Cache-Status %q)", url, cs, xcs)
}
