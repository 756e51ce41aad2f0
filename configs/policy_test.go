package configs

import (
	"strings"
	"testing"
)

// Policy problems are found at load time, each named by file, line and key.
func TestPolicyValidation(t *testing.T) {
	base := func(policies, routePolicies string) string {
		return "admin: {address: \"off\"}\nlisteners:\n  - {name: w, address: 127.0.0.1:0}\nroutes:\n" +
			"  - {match: {prefix: /}, policies: " + routePolicies + ", proxy: {upstream: app}}\n" +
			"upstreams:\n  app: {endpoints: [\"127.0.0.1:9\"]}\npolicies:\n" + policies
	}
	key := "sha256:" + strings.Repeat("ab", 32)
	for _, c := range []struct {
		name, src, want string
	}{
		{"ok", base("  k: {api_key: {keys: [{consumer: c, hash: \""+key+"\"}]}}\n", "[k]"), ""},
		{"unknown policy", base("  k: {body_limit: {max_bytes: 1KiB}}\n", "[nope]"), `test.yaml:5: routes[0].policies[0]: no policy named "nope"`},
		{"listed twice", base("  k: {body_limit: {max_bytes: 1KiB}}\n", "[k, k]"), `routes[0].policies[1]: lists "k" twice`},
		{"no kind", base("  k: {}\n", "[k]"), "policies.k: sets no policy kind"},
		{"two kinds", base("  k: {body_limit: {max_bytes: 1KiB}, ip_filter: {deny: [10.0.0.0/8]}}\n", "[k]"), "policies.k: sets ip_filter and body_limit"},
		{"jwt without keys", base("  j: {jwt: {audiences: [a]}}\n", "[j]"), "policies.j.jwt: needs jwks_url, key_files or secret"},
		{"jwt secret with jwks", base("  j: {jwt: {secret: s, jwks_url: \"https://id.test/jwks\"}}\n", "[j]"), "policies.j.jwt.secret: cannot be used with jwks_url"},
		{"jwt alg none", base("  j: {jwt: {jwks_url: \"https://id.test/jwks\", algorithms: [none]}}\n", "[j]"), `policies.j.jwt.algorithms[0]: "none" is not a supported algorithm`},
		{"jwt two sources in one", base("  j: {jwt: {jwks_url: \"https://id.test/jwks\", from: [{header: A, cookie: b}]}}\n", "[j]"), "policies.j.jwt.from[0]: set exactly one"},
		{"bad api key hash", base("  k: {api_key: {keys: [{consumer: c, hash: plain}]}}\n", "[k]"), "policies.k.api_key.keys[0].hash: must be sha256:"},
		{"bad bcrypt", base("  b: {basic_auth: {users: [{name: u, hash: md5}]}}\n", "[b]"), "policies.b.basic_auth.users[0].hash: is not a bcrypt hash"},
		{"mtls nobody", base("  m: {mtls: {}}\n", "[m]"), "policies.m.mtls: lists no consumers"},
		{"anonymous alone", base("  a: {anonymous: {}}\n", "[a]"), "lists an anonymous policy but no authentication policy"},
		{"redis store without redis", base("  r: {rate_limit: {store: redis, limits: [{requests: 1, per: 1s}]}}\n", "[r]"), "policies.r.rate_limit.store: is redis, but the config has no top-level redis server"},
		{"bad rate key", base("  r: {rate_limit: {key: user, limits: [{requests: 1, per: 1s}]}}\n", "[r]"), `policies.r.rate_limit.key: "user" is not`},
		{"zero rate", base("  r: {rate_limit: {limits: [{requests: 0, per: 1s}]}}\n", "[r]"), "policies.r.rate_limit.limits[0].requests: must be more than 0"},
		{"lease without redis", base("  r: {rate_limit: {lease: 10, limits: [{requests: 1, per: 1s}]}}\n", "[r]"), "policies.r.rate_limit.lease: applies to store redis only"},
		{"cors credentials any origin", base("  c: {cors: {allow_origins: [\"*\"], allow_credentials: true}}\n", "[c]"), "policies.c.cors.allow_credentials: cannot be true with allow_origins *"},
		{"bad cidr", base("  i: {ip_filter: {allow: [10.0.0.0/33]}}\n", "[i]"), "policies.i.ip_filter.allow[0]: "},
		{"empty authorize", base("  z: {authorize: {}}\n", "[z]"), "policies.z.authorize: sets no rule"},
		{"two caches", base("  c1: {cache: {}}\n  c2: {cache: {}}\n", "[c1, c2]"), "lists 2 cache policies; a route takes one"},
		{"cache key options", base("  c: {cache: {key_query: [a], ignore_query: true}}\n", "[c]"), "set at most one of key_query"},
		{"jwt refresh 0", base("  j: {jwt: {jwks_url: \"https://id.test/jwks\", refresh_interval: 0s}}\n", "[j]"), "policies.j.jwt.refresh_interval: must be more than 0"},
		{"jwt fetch timeout 0", base("  j: {jwt: {jwks_url: \"https://id.test/jwks\", fetch_timeout: 0s}}\n", "[j]"), "policies.j.jwt.fetch_timeout: must be more than 0"},
		{"negative jwt cache", base("  j: {jwt: {jwks_url: \"https://id.test/jwks\", cache_size: -1}}\n", "[j]"), "policies.j.jwt.cache_size: must not be negative"},
		{"negative max_keys", base("  r: {rate_limit: {max_keys: -1, limits: [{requests: 1, per: 1s}]}}\n", "[r]"), "policies.r.rate_limit.max_keys: must not be negative"},
		{"bad ext_authz url", base("  e: {ext_authz: {url: \"ftp://x\"}}\n", "[e]"), `policies.e.ext_authz.url: "ftp://x" is not an http or https URL`},
	} {
		_, err := Parse([]byte(c.src), "test.yaml")
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want an error containing %q", c.name, err, c.want)
		}
	}
}
