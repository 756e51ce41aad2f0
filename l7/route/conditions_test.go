package route

import (
	"net/http"
	"testing"

	"github.com/bouncer-proxy/bouncer/configs"
)

func ptr[T any](v T) *T { return &v }

func TestMethods(t *testing.T) {
	runCases(t, []def{
		{"write", configs.Match{Methods: []string{"post", "PUT", "DELETE"}}},
		{"custom", configs.Match{Methods: []string{"PURGE"}}},
	}, []matchCase{
		{req{path: "/", method: "POST"}, "write"},
		{req{path: "/", method: "put"}, "write"},
		{req{path: "/", method: "delete"}, "write"},
		{req{path: "/", method: "GET"}, "(none)"},
		{req{path: "/", method: "PURGE"}, "custom"},
		{req{path: "/", method: ""}, "(none)"},
	})
}

func TestHeaderConditions(t *testing.T) {
	only := func(name string, vm configs.ValueMatch) def {
		vm.Name = "x-h"
		return def{name, configs.Match{Prefix: "/" + name, Headers: []configs.ValueMatch{vm}}}
	}
	defs := []def{
		only("present", configs.ValueMatch{}),
		only("present-true", configs.ValueMatch{Present: ptr(true)}),
		only("absent", configs.ValueMatch{Present: ptr(false)}),
		only("value", configs.ValueMatch{Value: "Yes"}),
		only("value-present", configs.ValueMatch{Value: "yes", Present: ptr(true)}),
		only("regex", configs.ValueMatch{Regex: "v[0-9]+"}),
	}
	h := func(vs ...string) http.Header { return http.Header{"X-H": vs} }
	runCases(t, defs, []matchCase{
		{req{path: "/present", header: h("")}, "present"},
		{req{path: "/present", header: h()}, "(none)"},
		{req{path: "/present", header: nil}, "(none)"},
		{req{path: "/present-true", header: h("a")}, "present-true"},
		{req{path: "/absent", header: nil}, "absent"},
		{req{path: "/absent", header: http.Header{"X-Other": {"1"}}}, "absent"},
		{req{path: "/absent", header: h("")}, "(none)"},
		{req{path: "/value", header: h("Yes")}, "value"},
		{req{path: "/value", header: h("yes")}, "(none)"},
		{req{path: "/value", header: h("no", "Yes")}, "value"},
		{req{path: "/value", header: h("Yes ")}, "(none)"},
		{req{path: "/value-present", header: h("yes")}, "value-present"},
		{req{path: "/regex", header: h("v12")}, "regex"},
		{req{path: "/regex", header: h("xv12")}, "(none)"}, // whole value
		{req{path: "/regex", header: h("v12x")}, "(none)"},
		{req{path: "/regex", header: h("x", "v1")}, "regex"},
	})
}

func TestQueryConditions(t *testing.T) {
	only := func(name string, vm configs.ValueMatch) def {
		vm.Name = "a b"
		return def{name, configs.Match{Prefix: "/" + name, Query: []configs.ValueMatch{vm}}}
	}
	defs := []def{
		only("present", configs.ValueMatch{}),
		only("absent", configs.ValueMatch{Present: ptr(false)}),
		only("value", configs.ValueMatch{Value: "x&y"}),
		only("regex", configs.ValueMatch{Regex: "[0-9]+ ok"}),
		{"plain", configs.Match{Prefix: "/plain", Query: []configs.ValueMatch{{Name: "debug"}, {Name: "v", Value: "2"}}}},
	}
	runCases(t, defs, []matchCase{
		{req{path: "/present", query: "a+b"}, "present"},
		{req{path: "/present", query: "x=1&a%20b=&y"}, "present"},
		{req{path: "/present", query: "ab=1"}, "(none)"},
		{req{path: "/present", query: ""}, "(none)"},
		{req{path: "/present", query: "a%2"}, "(none)"},
		{req{path: "/absent", query: "x=1"}, "absent"},
		{req{path: "/absent", query: ""}, "absent"},
		{req{path: "/absent", query: "x=1&a+b=2"}, "(none)"},
		{req{path: "/value", query: "a+b=x%26y"}, "value"},
		{req{path: "/value", query: "a+b=x&y"}, "(none)"},
		{req{path: "/value", query: "a+b=1&a+b=x%26y"}, "value"},
		{req{path: "/value", query: "a+b=x%26y%"}, "(none)"},
		{req{path: "/regex", query: "a+b=42+ok"}, "regex"},
		{req{path: "/regex", query: "a+b=42%20ok"}, "regex"},
		{req{path: "/regex", query: "a+b=42 ok"}, "regex"},
		{req{path: "/regex", query: "a+b=42+ok+"}, "(none)"},
		{req{path: "/regex", query: "a+b=%zz"}, "(none)"},
		{req{path: "/plain", query: "debug&v=2"}, "plain"},
		{req{path: "/plain", query: "v=2&debug="}, "plain"},
		{req{path: "/plain", query: "v=2"}, "(none)"},
		{req{path: "/plain", query: "debug&v=3"}, "(none)"},
	})
}

func TestTemplateMatch(t *testing.T) {
	tests := []struct {
		tmpl, path string
		want       bool
	}{
		{"/", "/", true},
		{"/", "/a", false},
		{"/v1/{id}", "/v1/42", true},
		{"/v1/{id}", "/v1/", false},
		{"/v1/{id}", "/v1/42/", false},
		{"/v1/{id}/", "/v1/42/", true},
		{"/v1/{id}/x", "/v1/42/x", true},
		{"/v1/{id}/x", "/v1/42/y", false},
		{"/v1/{id=*}/x", "/v1/42/x", true},
		{"/v1/*/x/*", "/v1/a/x/b", true},
		{"/v1/*/x/*", "/v1/a/x", false},
		{"/v1/**", "/v1", true},
		{"/v1/**", "/v1/", true},
		{"/v1/**", "/v1/a/b/c", true},
		{"/v1/**", "/v10", false},
		{"/v1/{rest=**}", "/v1/a/b", true},
		{"/**", "/", true},
		{"/**", "/anything/at/all", true},
		{"/{a}/{b}/**", "/x", false},
		{"/{a}/{b}/**", "/x/y", true},
		{"/v1/{id}/**", "/v1/x", true},
		{"/v1/{id}/**", "/v1/", false},
		{"/v1/{id}/**", "/v1/x/y/z", true},
		{"/v1/{id}", "", false},
		{"/v1/{id}", "v1/x", false},
	}
	for _, tt := range tests {
		tp, err := parseTemplate(tt.tmpl)
		if err != nil {
			t.Fatalf("parseTemplate(%q): %v", tt.tmpl, err)
		}
		if got := tp.match(tt.path); got != tt.want {
			t.Errorf("template %q matching %q = %v, want %v", tt.tmpl, tt.path, got, tt.want)
		}
	}
}

func TestLiteralPrefix(t *testing.T) {
	tests := []struct {
		expr, want string
		complete   bool
	}{
		{"/health", "/health", true},
		{"^/health$", "/health", false},
		{"/api/v[0-9]+", "/api/v", false},
		{"(/api)/x", "/api/x", true},
		{"(?i)/api", "/", false},
		{"/a|/b", "/", false},
		{"x^y", "x", false},
		{".*", "", false},
		{"(", "", false},
	}
	for _, tt := range tests {
		got, complete := literalPrefix(tt.expr)
		if got != tt.want || complete != tt.complete {
			t.Errorf("literalPrefix(%q) = %q, %v; want %q, %v", tt.expr, got, complete, tt.want, tt.complete)
		}
	}
}
