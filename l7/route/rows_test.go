package route

import (
	"net/http"
	"reflect"
	"testing"

	"github.com/bouncer-proxy/bouncer/configs"
)

func TestRows(t *testing.T) {
	tb := compileDefs(t, []def{
		{"any", configs.Match{}},
		{"regex", configs.Match{Regex: "/api/v[0-9]+/.*"}},
		{"prefix", configs.Match{Prefix: "/api/", Methods: []string{"post", "GET"}}},
		{"tmpl", configs.Match{Template: "/api/{id}"}},
		{"exact", configs.Match{Path: "/z", Headers: []configs.ValueMatch{{Name: "x-env", Value: "prod"}, {Name: "X-Off", Present: ptr(false)}}, Query: []configs.ValueMatch{{Name: "v", Regex: "[0-9]+"}}}},
		{"wild", configs.Match{Hosts: []string{"*.Example.com"}, Prefix: "/"}},
		{"wild-long", configs.Match{Hosts: []string{"*.eu.example.com"}}},
		{"host", configs.Match{Hosts: []string{"b.example.com", "*.x.example.com", "a.example.com"}, Path: "/"}},
	})
	want := []Row{
		{Name: "host", Index: 7, Hosts: "b.example.com,*.x.example.com,a.example.com", Path: "path /"},
		{Name: "wild-long", Index: 6, Hosts: "*.eu.example.com"},
		{Name: "wild", Index: 5, Hosts: "*.example.com", Path: "prefix /"},
		{Name: "exact", Index: 4, Path: "path /z", Conditions: `header X-Env = "prod", header X-Off absent, query v ~ "[0-9]+"`},
		{Name: "regex", Index: 1, Path: "regex /api/v[0-9]+/.*"},
		{Name: "tmpl", Index: 3, Path: "template /api/{id}"},
		{Name: "prefix", Index: 2, Path: "prefix /api/", Methods: "GET,POST"},
		{Name: "any", Index: 0},
	}
	if got := tb.Rows(); !reflect.DeepEqual(got, want) {
		t.Errorf("Rows() =")
		for _, r := range got {
			t.Errorf("  %+v", r)
		}
	}
}

// TestMatchDoesNotAllocate covers a hit of each kind and a miss.
func TestMatchDoesNotAllocate(t *testing.T) {
	tb := compileDefs(t, []def{
		{"exact", configs.Match{Hosts: []string{"api.example.com"}, Path: "/v1/health"}},
		{"tmpl", configs.Match{Hosts: []string{"*.example.com"}, Template: "/v1/users/{id}/orders/**", Methods: []string{"GET"}}},
		{"regex", configs.Match{Regex: "/re/[0-9]+", Headers: []configs.ValueMatch{{Name: "X-Env", Value: "prod"}}}},
		{"prefix", configs.Match{Prefix: "/static/", Query: []configs.ValueMatch{{Name: "v", Value: "1"}}}},
	})
	hdr := http.Header{"X-Env": {"prod"}}
	for _, r := range []req{
		{host: "API.example.com:443", path: "/v1/health"},
		{host: "a.b.example.com", path: "/v1/users/7/orders/1"},
		{host: "other", path: "/re/123", header: hdr},
		{host: "other", path: "/static/app.js", query: "x=%41&v=1"},
		{host: "api.example.com", path: "/nothing/here", header: hdr, query: "a=b"},
	} {
		if n := testing.AllocsPerRun(200, func() { r.run(tb) }); n != 0 {
			t.Errorf("Match(%q, %q) allocates %v times", r.host, r.path, n)
		}
	}
}
