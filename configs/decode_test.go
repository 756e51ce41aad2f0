package configs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const goodBase = `
listeners:
  - name: web
    address: 127.0.0.1:0
routes:
  - match: {prefix: /}
    proxy: {upstream: app}
upstreams:
  app:
    endpoints: [127.0.0.1:9001]
`

func TestParseGoodAppliesDefaults(t *testing.T) {
	cfg, err := Parse([]byte(goodBase), "good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	l := cfg.Listeners[0]
	if got := strings.Join(l.Protocols, ","); got != "http1,h2c" {
		t.Errorf("protocols default = %q", got)
	}
	if l.Limits.MaxHeaderBytes != 64<<10 || l.Limits.IdleTimeout.D() != 120*time.Second {
		t.Errorf("limits defaults = %+v", l.Limits)
	}
	if cfg.Admin.Address != "127.0.0.1:9901" {
		t.Errorf("admin default = %q", cfg.Admin.Address)
	}
	u := cfg.Upstreams["app"]
	if u.Endpoints[0].Weight != 1 || u.Balance != "round_robin" || u.Protocol != "http1" {
		t.Errorf("upstream defaults = %+v", u)
	}
	if cfg.Routes[0].Proxy.Timeout.D() != 30*time.Second || cfg.Routes[0].Name != "route-0" {
		t.Errorf("route defaults = %+v", cfg.Routes[0])
	}
	if cfg.Line("routes[0].proxy.upstream") != 7 {
		t.Errorf("line of routes[0].proxy.upstream = %d, want 7", cfg.Line("routes[0].proxy.upstream"))
	}
}

func TestParseSizesAndEndpointForms(t *testing.T) {
	src := goodBase + `    balance: ring_hash
    hash_on: {header: X-User}
    endpoints:
      - 127.0.0.1:9001
      - {address: 127.0.0.1:9002, weight: 3}
`
	src = strings.Replace(src, "    endpoints: [127.0.0.1:9001]\n", "", 1)
	src = strings.Replace(src, "address: 127.0.0.1:0\n", "address: 127.0.0.1:0\n    limits: {max_header_bytes: 1MiB}\n", 1)
	cfg, err := Parse([]byte(src), "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listeners[0].Limits.MaxHeaderBytes != 1<<20 {
		t.Errorf("size = %d", cfg.Listeners[0].Limits.MaxHeaderBytes)
	}
	eps := cfg.Upstreams["app"].Endpoints
	if len(eps) != 2 || eps[0].Weight != 1 || eps[1].Weight != 3 {
		t.Errorf("endpoints = %+v", eps)
	}
}

// TestBadConfigs is the table of invalid configs: each must fail with a
// message naming the line and key path.
func TestBadConfigs(t *testing.T) {
	cases := []struct {
		name, src, want string
	}{
		{"yaml syntax", "listeners: [\n", "bad.yaml:1: invalid YAML"},
		{"unknown top key", "listners: []\n", `bad.yaml:1: listners: unknown key "listners" (did you mean "listeners"?)`},
		{"unknown nested key", base(`    adress: 127.0.0.1:1`, ""), `listeners[0].adress: unknown key "adress" (did you mean "address"?)`},
		{"wrong type list", "listeners: web\n", `bad.yaml:1: listeners: expected a list, got "web"`},
		{"wrong type int", base("    limits: {max_concurrent_streams: lots}", ""), `listeners[0].limits.max_concurrent_streams: expected an integer, got "lots"`},
		{"wrong type bool", "log: {access_log: maybe}\n" + goodBase, `log.access_log: expected true or false, got "maybe"`},
		{"bad duration", base("    limits: {idle_timeout: 10}", ""), `listeners[0].limits.idle_timeout: bad duration "10"`},
		{"negative duration", base("    limits: {idle_timeout: -1s}", ""), `duration "-1s" is negative`},
		{"bad size", base("    limits: {max_header_bytes: 12parsecs}", ""), `bad size "12parsecs"`},
		{"enum", "log: {format: xml}\n" + goodBase, `log.format: "xml" is not one of text, json`},
		{"enum in list", base("    protocols: [http1, spdy]", ""), `listeners[0].protocols[1]: "spdy" is not one of http1, h2c, h2, h3`},
		{"missing required", "listeners:\n  - address: 127.0.0.1:0\n", `bad.yaml:2: listeners[0].name: missing required key`},
		{"duplicate key", "log: {level: info, level: debug}\n" + goodBase, `log.level: duplicate key`},
		{"no listeners", "routes: []\n", `listeners: at least one listener is needed`},
		{"missing upstream", strings.Replace(goodBase, "upstream: app", "upstream: nope", 1), `bad.yaml:7: routes[0].proxy.upstream: no upstream named "nope"`},
		{"missing listener ref", strings.Replace(goodBase, "  - match: {prefix: /}", "  - listeners: [other]\n    match: {prefix: /}", 1), `routes[0].listeners[0]: no listener named "other"`},
		{"duplicate listener address", base("", "  - {name: b, address: \"127.0.0.1:0\"}\n  - {name: c, address: \":8080\"}\n  - {name: d, address: \"0.0.0.0:8080\"}\n"), `listeners[3].address: duplicate listener address "0.0.0.0:8080" (also listeners[2])`},
		{"duplicate listener name", base("", "  - name: web\n    address: 127.0.0.1:0\n"), `listeners[1].name: duplicate listener name "web"`},
		{"bad address", strings.Replace(goodBase, "127.0.0.1:0", "localhost", 1), `listeners[0].address: "localhost" is not host:port`},
		{"h2 without tls", base("    protocols: [h2]", ""), `listeners[0].protocols[0]: h2 needs tls`},
		{"missing cert", base("    protocols: [h2]\n    tls: {cert_file: /nonexistent.pem, key_file: /nonexistent.key}", ""), `listeners[0].tls.cert_file: cannot load certificate`},
		{"cert without key", base("    protocols: [h2]\n    tls: {cert_file: /nonexistent.pem}", ""), `listeners[0].tls: cert_file and key_file go together`},
		{"tls without certificate", base("    protocols: [h2]\n    tls: {strict_sni: true}", ""), `listeners[0].tls: a TLS listener needs certificates`},
		{"bad certificates entry", base("    protocols: [h2]\n    tls: {certificates: [{cert_file: /nonexistent.pem, key_file: /nonexistent.key}]}", ""), `listeners[0].tls.certificates[0]: cannot load certificate`},
		{"tls min_version", base("    protocols: [h2]\n    tls: {min_version: \"1.1\", cert_file: /nonexistent.pem, key_file: /nonexistent.key}", ""), `listeners[0].tls.min_version: "1.1" is not one of 1.2, 1.3`},
		{"no action", strings.Replace(goodBase, "    proxy: {upstream: app}\n", "", 1), `routes[0]: a route needs exactly one of proxy, transcode, redirect, respond, aggregate (has 0)`},
		{"two actions", strings.Replace(goodBase, "    proxy: {upstream: app}\n", "    proxy: {upstream: app}\n    respond: {status: 200}\n", 1), `(has 2)`},
		{"bad regex", strings.Replace(goodBase, "{prefix: /}", "{regex: \"/a(\"}", 1), `bad.yaml:6: routes[0].match.regex: bad regex: missing closing )`},
		{"bad header regex", strings.Replace(goodBase, "{prefix: /}", "{headers: [{name: X, regex: \"[\"}]}", 1), `routes[0].match.headers[0].regex: bad regex`},
		{"bad header name", strings.Replace(goodBase, "{prefix: /}", "{headers: [{name: \"X Y\"}]}", 1), `routes[0].match.headers[0].name: "X Y" is not a valid header name`},
		{"bad redirect status", strings.Replace(goodBase, "proxy: {upstream: app}", "redirect: {scheme: https, status: 200}", 1), `routes[0].redirect.status: 200 is not a redirect status`},
		{"bad respond status", strings.Replace(goodBase, "proxy: {upstream: app}", "respond: {status: 999}", 1), `routes[0].respond.status: 999 is not an HTTP status`},
		{"rewrite two ways", strings.Replace(goodBase, "    proxy: {upstream: app}\n", "    proxy: {upstream: app}\n    rewrite: {strip_prefix: /a, path: /b}\n", 1), `routes[0].rewrite: set exactly one of strip_prefix, path, regex`},
		{"per try longer than total", strings.Replace(goodBase, "proxy: {upstream: app}", "proxy: {upstream: app, timeout: 1s, per_try_timeout: 2s}", 1), `routes[0].proxy.per_try_timeout: is longer than timeout`},
		{"forwarded_headers enum", strings.Replace(goodBase, "proxy: {upstream: app}", "proxy: {upstream: app, forwarded_headers: [x-real-ip]}", 1), `routes[0].proxy.forwarded_headers[0]: "x-real-ip" is not one of x-forwarded-for`},
		{"retry_on enum", strings.Replace(goodBase, "proxy: {upstream: app}", "proxy: {upstream: app, retry: {retry_on: [500]}}", 1), `routes[0].proxy.retry.retry_on[0]: "500" is not one of`},
		{"no endpoints", strings.Replace(goodBase, "[127.0.0.1:9001]", "[]", 1), `upstreams.app.endpoints: at least one endpoint is needed`},
		{"bad weight", strings.Replace(goodBase, "[127.0.0.1:9001]", "[{address: 127.0.0.1:9001, weight: 0}]", 1), `upstreams.app.endpoints[0].weight: weight 0 is out of range 1..1000`},
		{"bad balance", goodBase + "    balance: fastest\n", `upstreams.app.balance: "fastest" is not one of`},
		{"hash_on without hashing", goodBase + "    hash_on: {header: X}\n", `upstreams.app.hash_on: hash_on is used only with balance ring_hash or maglev`},
		{"bad health status", goodBase + "    health_check: {expected_statuses: [\"2xx\"]}\n", `upstreams.app.health_check.expected_statuses[0]: "2xx" is not a status`},
		{"bad health path", goodBase + "    health_check: {path: healthz}\n", `upstreams.app.health_check.path: must start with /`},
		{"h2 upstream without tls", goodBase + "    protocol: h2\n", `upstreams.app.protocol: h2 needs tls`},
		{"bad trusted proxy", "server: {trusted_proxies: [10.0.0.0/33]}\n" + goodBase, `server.trusted_proxies[0]: "10.0.0.0/33" is neither a CIDR nor an IP address`},
		{"transcode to http1 upstream", strings.Replace(goodBase, "proxy: {upstream: app}", "transcode: {upstream: app}", 1), `routes[0].transcode.upstream: upstream "app" speaks http1; gRPC needs protocol h2c or h2`},
		{"transcode and proxy", strings.Replace(goodBase, "    proxy: {upstream: app}\n", "    proxy: {upstream: app}\n    transcode: {upstream: app}\n", 1), `(has 2)`},
		{"transcode bad selector", strings.Replace(goodBase, "proxy: {upstream: app}", "transcode: {upstream: app, rules: [{selector: \"a..b\", bindings: [{get: /x}]}]}", 1) + "    protocol: h2c\n", `routes[0].transcode.rules[0].selector: "a..b" is not a method name`},
		{"transcode binding two patterns", strings.Replace(goodBase, "proxy: {upstream: app}", "transcode: {upstream: app, rules: [{selector: a.B.C, bindings: [{get: /x, post: /y}]}]}", 1) + "    protocol: h2c\n", `routes[0].transcode.rules[0].bindings[0]: a binding needs exactly one of get, put, post, delete, patch, custom (has 2)`},
		{"transcode rule without bindings", strings.Replace(goodBase, "proxy: {upstream: app}", "transcode: {upstream: app, rules: [{selector: a.B.C}]}", 1) + "    protocol: h2c\n", `routes[0].transcode.rules[0].bindings: missing required key`},
		{"transcode success status", strings.Replace(goodBase, "proxy: {upstream: app}", "transcode: {upstream: app, rules: [{selector: a.B.C, bindings: [{post: /x, success_status: 302}]}]}", 1) + "    protocol: h2c\n", `success_status: 302 is not a 2xx status`},
		{"grpc on http1 upstream", goodBase + "    grpc: {reflection: true}\n", `upstreams.app.grpc: a gRPC upstream needs protocol h2c or h2 (has http1)`},
		{"grpc no source", goodBase + "    protocol: h2c\n    grpc: {reflection: false}\n", `upstreams.app.grpc: reflection is off and no protoset is given`},
		{"bad sample grpc address", "sample: {enabled: true, grpc_address: nowhere}\n" + goodBase, `sample.grpc_address: "nowhere" is not host:port`},
		{"sample addresses clash", "sample: {enabled: true, address: \"127.0.0.1:7000\", grpc_address: \"127.0.0.1:7000\"}\n" + goodBase, `sample.grpc_address: is the same as sample.address`},
		{"outlier times", goodBase + "    outlier_detection: {base_ejection_time: 10s, max_ejection_time: 1s}\n", `upstreams.app.outlier_detection.max_ejection_time: must be at least base_ejection_time`},
		{"second document", goodBase + "---\nlisteners: []\n", `bad.yaml:12: a second YAML document starts here`},
		{"merge key", goodBase + "  b:\n    <<: {endpoints: [127.0.0.1:9002]}\n", `bad.yaml:12: upstreams.b: merge keys (<<) are not supported`},
		{"list as map key", goodBase + "  ? [a, b]\n  : {endpoints: [127.0.0.1:9002]}\n", `bad.yaml:11: upstreams: a map key must be a plain string, not a list`},
		{"null map key", goodBase + "  ~: {endpoints: [127.0.0.1:9002]}\n", `bad.yaml:11: upstreams: map key ~ is read as null, not a string`},
		{"number map key", goodBase + "  1: {endpoints: [127.0.0.1:9002]}\n", `upstreams: map key 1 is read as int, not a string: quote it ("1")`},
		{"alias map key", "x: &k app\n" + goodBase + "  *k : {endpoints: [127.0.0.1:9002]}\n", `upstreams: map key *k is an alias`},
		{"empty map key", goodBase + "  \"\": {endpoints: [127.0.0.1:9002]}\n", `bad.yaml:11: upstreams: a name (map key) must not be empty`},
		{"alias located where used", strings.Replace(strings.Replace(goodBase, "127.0.0.1:0", "&a 127.0.0.1:0", 1), "upstream: app", "upstream: *a", 1), `bad.yaml:7: routes[0].proxy.upstream: no upstream named "127.0.0.1:0"`},
		{"route on a tcp-only listener", strings.Replace(strings.Replace(goodBase, "  - match: {prefix: /}", "  - listeners: [web]\n    match: {prefix: /}", 1), "address: 127.0.0.1:0\n", "address: 127.0.0.1:0\n    protocols: [tcp]\nl4_routes:\n  - tcp: {upstream: app}\n", 1), `routes[0].listeners[0]: listener "web" serves no HTTP (protocols tcp)`},
		{"empty listener name", strings.Replace(goodBase, "name: web", `name: ""`, 1), `bad.yaml:3: listeners[0].name: must not be empty`},
		{"empty proxy upstream", strings.Replace(goodBase, "upstream: app", `upstream: ""`, 1), `bad.yaml:7: routes[0].proxy.upstream: no upstream named ""`},
		{"empty transcode upstream", strings.Replace(goodBase, "proxy: {upstream: app}", `transcode: {upstream: ""}`, 1), `routes[0].transcode.upstream: no upstream named ""`},
		{"streams past 32 bits", base("    limits: {max_concurrent_streams: 4294967296}", ""), `listeners[0].limits.max_concurrent_streams: must be between 1 and 4294967295`},
		{"bad hash_on header", goodBase + "    balance: maglev\n    hash_on: {header: \"X User\"}\n", `upstreams.app.hash_on.header: "X User" is not a valid header name`},
		{"negative redis db", "redis: {address: \"127.0.0.1:6379\", db: -1}\n" + goodBase, `bad.yaml:1: redis.db: must not be negative`},
		{"zero redis timeout", "redis: {address: \"127.0.0.1:6379\", timeout: 0}\n" + goodBase, `redis.timeout: must be more than 0`},
		{"aggregate call method and retries", strings.Replace(goodBase, "proxy: {upstream: app}", "aggregate: {calls: [{name: a, upstream: app, path: /, method: \"GE T\", retries: -1}]}", 1), `routes[0].aggregate.calls[0].method: "GE T" is not a method`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.src), "bad.yaml")
			if err == nil {
				t.Fatalf("config accepted:\n%s", tc.src)
			}
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("error is %T, want Errors", err)
			}
			for _, e := range es {
				if e.Line == 0 && !strings.Contains(e.Path, "listeners") {
					t.Errorf("error without a line: %v", e)
				}
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error:\n%v\nwant it to contain:\n%s", err, tc.want)
			}
		})
	}
}

// base builds a config whose first listener gets extra lines and which has
// more listeners appended.
func base(listenerExtra, moreListeners string) string {
	s := goodBase
	if listenerExtra != "" {
		s = strings.Replace(s, "    address: 127.0.0.1:0\n", "    address: 127.0.0.1:0\n"+listenerExtra+"\n", 1)
	}
	if moreListeners != "" {
		s = strings.Replace(s, "routes:\n", moreListeners+"routes:\n", 1)
	}
	return s
}

func TestAllErrorsReportedAtOnce(t *testing.T) {
	src := "log: {level: loud}\nlisteners:\n  - {name: a, address: nope, bogus: 1}\nroutes:\n  - proxy: {upstream: x}\n"
	_, err := Parse([]byte(src), "multi.yaml")
	var es Errors
	if !errors.As(err, &es) || len(es) < 3 {
		t.Fatalf("want at least 3 errors, got %v", err)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]Size{"0": 0, "512B": 512, "64KiB": 65536, "1MB": 1e6, "2GiB": 2 << 30} {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	if _, err := ParseSize("1TB"); err == nil {
		t.Error("1TB accepted")
	}
}

// TestAliasExpansionBounded: a few lines of aliases of aliases must not
// expand into billions of values (and hang or exhaust memory): decoding
// stops with an error once aliases have added more values than allowed.
func TestAliasExpansionBounded(t *testing.T) {
	list := func(item string, n int) string { return "[" + strings.Repeat(item+",", n-1) + item + "]" }
	src := "listeners: [{name: web, address: '127.0.0.1:0'}]\n" +
		"upstreams: {app: {endpoints: ['127.0.0.1:9']}}\n" +
		"x: &f " + list("a", 1000) + "\n" +
		"y: &c {name: c, upstream: app, path: /, fields: *f}\n" +
		"z: &r {match: {prefix: /}, aggregate: {calls: " + list("*c", 1000) + "}}\n" +
		"routes: " + list("*r", 1000) + "\n"
	_, err := Parse([]byte(src), "bomb.yaml")
	var es Errors
	if !errors.As(err, &es) || !strings.Contains(err.Error(), "aliases expand to more than") {
		t.Fatalf("want the alias expansion refused, got %v", err)
	}
	if len(es) > 20 {
		t.Errorf("%d errors; decoding should stop at the limit", len(es))
	}
	// Ordinary use of anchors is fine.
	ok := strings.Replace(goodBase, "[127.0.0.1:9001]", "&eps [127.0.0.1:9001]", 1) + "  other:\n    endpoints: *eps\n"
	if _, err := Parse([]byte(ok), "ok.yaml"); err != nil {
		t.Errorf("aliased endpoints refused: %v", err)
	}
}

// TestDecodeErrorHidesOnlyItsOwnPath: a decode problem at routes[1] must
// not hide validation problems of routes[10].
func TestDecodeErrorHidesOnlyItsOwnPath(t *testing.T) {
	src := goodBase + "routes:\n"
	src = strings.Replace(goodBase, "routes:\n  - match: {prefix: /}\n    proxy: {upstream: app}\n", "", 1) + "routes:\n"
	for i := range 11 {
		switch i {
		case 1:
			src += "  - 5\n"
		case 10:
			src += fmt.Sprintf("  - {match: {path: /r%d}, proxy: {upstream: nope}}\n", i)
		default:
			src += fmt.Sprintf("  - {match: {path: /r%d}, proxy: {upstream: app}}\n", i)
		}
	}
	_, err := Parse([]byte(src), "bad.yaml")
	if err == nil || !strings.Contains(err.Error(), "routes[1]: expected a map of keys") ||
		!strings.Contains(err.Error(), `routes[10].proxy.upstream: no upstream named "nope"`) {
		t.Fatalf("want both the decode and the validation problem, got:\n%v", err)
	}
}

// TestLoadBoundsFileSize: Load refuses a file larger than MaxFileBytes
// instead of reading on (a path such as /dev/zero never ends).
func TestLoadBoundsFileSize(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.yaml")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(MaxFileBytes + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "larger than 64 MiB") {
		t.Fatalf("Load of a %d-byte file: %v", MaxFileBytes+1, err)
	}
}
