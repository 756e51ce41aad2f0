package route

import (
	"net/http"
	"testing"

	"github.com/bouncer-proxy/bouncer/configs"
)

// def is a route for tests: its name is its value.
type def struct {
	name string
	m    configs.Match
}

// req is a request for tests.
type req struct {
	host, path, method string
	header             http.Header
	query              string
}

func compileDefs(t *testing.T, defs []def) *Table[string] {
	t.Helper()
	entries := make([]Entry[string], len(defs))
	for i, d := range defs {
		entries[i] = Entry[string]{Name: d.name, Match: d.m, Value: d.name, Index: i}
	}
	tb, err := Compile(entries)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return tb
}

func (r req) run(tb *Table[string]) string {
	if r.method == "" {
		r.method = http.MethodGet
	}
	v, ok := tb.Match(r.host, r.path, r.method, r.header, r.query)
	if !ok {
		return "(none)"
	}
	return v
}

type matchCase struct {
	req  req
	want string
}

func runCases(t *testing.T, defs []def, cases []matchCase) {
	t.Helper()
	tb := compileDefs(t, defs)
	for _, c := range cases {
		if got := c.req.run(tb); got != c.want {
			t.Errorf("Match(%q, %q, %q, %v, %q) = %s, want %s", c.req.host, c.req.path, c.req.method, c.req.header, c.req.query, got, c.want)
		}
	}
}

func TestPrecedencePath(t *testing.T) {
	defs := []def{
		{"any", configs.Match{}},
		{"regex-root", configs.Match{Regex: ".*\\.php"}},
		{"prefix-root", configs.Match{Prefix: "/"}},
		{"prefix-api", configs.Match{Prefix: "/api/"}},
		{"prefix-api-v", configs.Match{Prefix: "/api/v"}},
		{"regex-api-v", configs.Match{Regex: "/api/v[0-9]+/.*"}},
		{"tmpl-api-v1", configs.Match{Template: "/api/v1/{id}"}},
		{"prefix-api-v1", configs.Match{Prefix: "/api/v1/"}},
		{"regex-api-v1", configs.Match{Regex: "^/api/v1/[a-z]+$"}},
		{"exact-users", configs.Match{Path: "/api/v1/users"}},
		{"tmpl-literal", configs.Match{Template: "/api/v1/me"}},
		{"regex-literal", configs.Match{Regex: "/api/v1/(self)"}},
		{"tmpl-rest", configs.Match{Template: "/admin/**"}},
		{"prefix-adm", configs.Match{Prefix: "/adm"}},
		{"prefix-admin-slash", configs.Match{Prefix: "/admin/"}},
		{"tmpl-star", configs.Match{Template: "/files/*/meta"}},
		{"tmpl-var-rest", configs.Match{Template: "/files/{path=**}"}},
	}
	runCases(t, defs, []matchCase{
		{req{path: "/api/v1/users"}, "exact-users"},
		{req{path: "/api/v1/me"}, "tmpl-literal"},
		{req{path: "/api/v1/self"}, "regex-literal"},
		{req{path: "/api/v1/42"}, "tmpl-api-v1"},     // literal /api/v1/ ties: template first
		{req{path: "/api/v1/42/x"}, "prefix-api-v1"}, // template needs one segment
		{req{path: "/api/v1/"}, "prefix-api-v1"},     // {id} is never empty
		{req{path: "/api/v2/x"}, "prefix-api-v"},     // "/api/v" ties: prefix before regex
		{req{path: "/api/x"}, "prefix-api"},
		{req{path: "/index.php"}, "prefix-root"}, // "/" is longer than the regex's ""
		{req{path: "/admin"}, "tmpl-rest"},       // ** matches zero segments
		{req{path: "/admin/"}, "prefix-admin-slash"},
		{req{path: "/admin/x/y"}, "prefix-admin-slash"},
		{req{path: "/adminx"}, "prefix-adm"},
		{req{path: "/files/a/meta"}, "tmpl-star"},
		{req{path: "/files/a/b"}, "tmpl-var-rest"},
		{req{path: "/files//meta"}, "tmpl-var-rest"}, // not normalized, but no panic
		{req{path: "/files"}, "tmpl-var-rest"},
		{req{path: ""}, "any"},
		{req{path: "/x.php"}, "prefix-root"},
	})
}

func TestPrecedenceNoPathLast(t *testing.T) {
	runCases(t, []def{
		{"any-get", configs.Match{Methods: []string{"GET"}}},
		{"regex", configs.Match{Regex: "/x.*"}},
		{"any", configs.Match{}},
	}, []matchCase{
		{req{path: "/xyz"}, "regex"},
		{req{path: "/y"}, "any-get"},
		{req{path: "/y", method: "POST"}, "any"},
	})
}

func TestPrecedenceConditions(t *testing.T) {
	hdr := http.Header{"X-Env": {"prod"}, "X-Debug": {"1"}}
	runCases(t, []def{
		{"plain", configs.Match{Prefix: "/api/"}},
		{"get", configs.Match{Prefix: "/api/", Methods: []string{"GET", "HEAD"}}},
		{"env", configs.Match{Prefix: "/api/", Headers: []configs.ValueMatch{{Name: "X-Env", Value: "prod"}}}},
		{"env-debug", configs.Match{Prefix: "/api/", Headers: []configs.ValueMatch{{Name: "X-Env", Value: "prod"}, {Name: "x-debug"}}}},
		{"get-q", configs.Match{Prefix: "/api/", Methods: []string{"GET"}, Query: []configs.ValueMatch{{Name: "v", Value: "2"}}}},
		{"exact-plain", configs.Match{Path: "/api/e"}},
		{"exact-post", configs.Match{Path: "/api/e", Methods: []string{"POST"}}},
	}, []matchCase{
		{req{path: "/api/x", header: hdr}, "env-debug"},
		{req{path: "/api/x", header: hdr, query: "v=2"}, "env-debug"}, // 2 conditions each: config order
		{req{path: "/api/x", method: "POST", header: http.Header{"X-Env": {"prod"}}}, "env"},
		{req{path: "/api/x", header: http.Header{"X-Env": {"prod"}}}, "get"}, // one condition each: config order
		{req{path: "/api/x", query: "v=2"}, "get-q"},
		{req{path: "/api/x"}, "get"},
		{req{path: "/api/x", method: "DELETE"}, "plain"},
		{req{path: "/api/e", method: "POST"}, "exact-post"},
		{req{path: "/api/e", method: "GET"}, "exact-plain"},
	})
}

func TestPrecedenceConfigOrderIrrelevant(t *testing.T) {
	defs := []def{
		{"regex", configs.Match{Regex: "/a/.*"}},
		{"prefix", configs.Match{Prefix: "/a/"}},
		{"tmpl", configs.Match{Template: "/a/{x}"}},
		{"exact", configs.Match{Path: "/a/b"}},
		{"host", configs.Match{Hosts: []string{"*.example.com"}}},
	}
	cases := []matchCase{
		{req{path: "/a/b"}, "exact"},
		{req{path: "/a/c"}, "tmpl"},
		{req{path: "/a/c/d"}, "prefix"},
		{req{host: "x.example.com", path: "/a/b"}, "host"},
	}
	runCases(t, defs, cases)
	rev := make([]def, len(defs))
	for i, d := range defs {
		rev[len(defs)-1-i] = d
	}
	runCases(t, rev, cases)
}

func TestPrecedenceHosts(t *testing.T) {
	runCases(t, []def{
		{"no-host", configs.Match{Prefix: "/"}},
		{"no-host-exact", configs.Match{Path: "/only"}},
		{"wild", configs.Match{Hosts: []string{"*.example.com"}, Prefix: "/"}},
		{"wild-deep", configs.Match{Hosts: []string{"*.eu.example.com"}, Prefix: "/w/"}},
		{"exact", configs.Match{Hosts: []string{"api.eu.example.com"}, Prefix: "/api/"}},
		{"exact-post", configs.Match{Hosts: []string{"API.example.com", "other.test"}, Methods: []string{"POST"}}},
	}, []matchCase{
		{req{host: "api.eu.example.com", path: "/api/x"}, "exact"},
		{req{host: "api.eu.example.com", path: "/w/x"}, "wild-deep"}, // exact host group has no fit
		{req{host: "api.eu.example.com", path: "/z"}, "wild"},
		{req{host: "api.eu.example.com", path: "/only"}, "wild"}, // host beats an exact path
		{req{host: "a.b.eu.example.com", path: "/w/"}, "wild-deep"},
		{req{host: "eu.example.com", path: "/w/"}, "wild"},
		{req{host: "example.com", path: "/only"}, "no-host-exact"}, // wildcard needs a label
		{req{host: "api.example.com", path: "/x", method: "POST"}, "exact-post"},
		{req{host: "other.test", path: "/x", method: "POST"}, "exact-post"},
		{req{host: "api.example.com", path: "/x", method: "GET"}, "wild"},
		{req{host: "", path: "/x"}, "no-host"},
	})
}

func TestHostForms(t *testing.T) {
	runCases(t, []def{
		{"api", configs.Match{Hosts: []string{"Api.Example.COM."}}},
		{"wild", configs.Match{Hosts: []string{"*.Example.org"}}},
		{"v6", configs.Match{Hosts: []string{"[::1]"}}},
		{"v6-bare", configs.Match{Hosts: []string{"2001:db8::1"}}},
		{"v4", configs.Match{Hosts: []string{"127.0.0.1"}}},
	}, []matchCase{
		{req{host: "api.example.com", path: "/"}, "api"},
		{req{host: "API.EXAMPLE.COM:8443", path: "/"}, "api"},
		{req{host: "api.example.com.", path: "/"}, "api"},
		{req{host: "api.example.com.:80", path: "/"}, "api"},
		{req{host: "x.api.example.com", path: "/"}, "(none)"},
		{req{host: "A.B.example.ORG", path: "/"}, "wild"},
		{req{host: "example.org", path: "/"}, "(none)"},
		{req{host: "badexample.org", path: "/"}, "(none)"},
		{req{host: ".example.org", path: "/"}, "(none)"},
		{req{host: "[::1]:8080", path: "/"}, "v6"},
		{req{host: "[::1]", path: "/"}, "v6"},
		{req{host: "[::1", path: "/"}, "(none)"},
		{req{host: "[2001:DB8::1]:443", path: "/"}, "v6-bare"},
		{req{host: "127.0.0.1:80", path: "/"}, "v4"},
		{req{host: string(make([]byte, 300)), path: "/"}, "(none)"},
		// Only a host name ends in a wildcard's suffix: bytes no name has
		// would let a Host such as evil.test#.example.org reach a
		// subdomain's route (and its upstream build links to evil.test).
		{req{host: "evil.test#.example.org", path: "/"}, "(none)"},
		{req{host: "evil.test/.example.org", path: "/"}, "(none)"},
		{req{host: "evil.test?.example.org", path: "/"}, "(none)"},
		{req{host: "user@a.example.org", path: "/"}, "(none)"},
		{req{host: "evil.test&.example.org:443", path: "/"}, "(none)"},
		{req{host: "a..example.org", path: "/"}, "(none)"},
		{req{host: "a_b-c.example.org:443", path: "/"}, "wild"},
	})
}

func TestEmptyAndNilTable(t *testing.T) {
	tb := compileDefs(t, nil)
	if got := (req{host: "a", path: "/"}).run(tb); got != "(none)" {
		t.Errorf("empty table matched %s", got)
	}
	if len(tb.Rows()) != 0 {
		t.Errorf("empty table has rows %v", tb.Rows())
	}
	var nilTable *Table[string]
	if got := (req{path: "/"}).run(nilTable); got != "(none)" {
		t.Errorf("nil table matched %s", got)
	}
}
