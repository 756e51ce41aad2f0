package route

import (
	"errors"
	"strings"
	"testing"

	"github.com/bouncer-proxy/bouncer/configs"
)

// compileErrors compiles defs and returns the *Error of each problem.
func compileErrors(t *testing.T, defs []def) []*Error {
	t.Helper()
	entries := make([]Entry[string], len(defs))
	for i, d := range defs {
		entries[i] = Entry[string]{Name: d.name, Match: d.m, Value: d.name, Index: i}
	}
	tb, err := Compile(entries)
	if err == nil {
		t.Fatalf("Compile succeeded, want errors")
	}
	if tb != nil {
		t.Errorf("Compile returned a table with its error")
	}
	var out []*Error
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var re *Error
		if !errors.As(e, &re) {
			t.Fatalf("error %v is not a *route.Error", e)
		}
		out = append(out, re)
	}
	return out
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		m     configs.Match
		field string
		msg   string
	}{
		{configs.Match{Path: "/a", Prefix: "/b"}, "match", "not path and prefix"},
		{configs.Match{Template: "/a", Regex: "/b", Prefix: "/c"}, "match", "not prefix and template and regex"},
		{configs.Match{Path: "a"}, "match.path", `"a" must start with /`},
		{configs.Match{Path: "/a//b"}, "match.path", `write "/a/b"`},
		{configs.Match{Prefix: "/%7euser"}, "match.prefix", `write "/~user"`},
		{configs.Match{Prefix: "/a/../b"}, "match.prefix", `write "/b"`},
		{configs.Match{Path: "/a%zz"}, "match.path", "malformed escape"},
		{configs.Match{Regex: "/a("}, "match.regex", `bad regex "/a(": error parsing regexp: missing closing )`},
		{configs.Match{Template: "v1/{id}"}, "match.template", "must start with /"},
		{configs.Match{Template: "/v1/{id"}, "match.template", `segment 2 "{id"`},
		{configs.Match{Template: "/v1/**/x"}, "match.template", "** must be the last segment"},
		{configs.Match{Template: "/v1/{a}/{a}"}, "match.template", `variable "a" appears twice`},
		{configs.Match{Template: "/v1/{a=x}"}, "match.template", "unsupported variable pattern"},
		{configs.Match{Template: "/v1/{a=x/*}"}, "match.template", `segment 2 "{a=x"`},
		{configs.Match{Template: "/v1/{1a}"}, "match.template", "bad variable name"},
		{configs.Match{Template: "/v1//{a}"}, "match.template", "segment 2 is empty"},
		{configs.Match{Template: "/v1/a*b"}, "match.template", "a segment is a literal"},
		{configs.Match{Template: "/v1/../{a}"}, "match.template", "dot segments"},
		{configs.Match{Template: "/v1/%7e/{a}"}, "match.template", `write "~"`},
		{configs.Match{Hosts: []string{"*"}}, "match.hosts[0]", "leave hosts out"},
		{configs.Match{Hosts: []string{"ok.com", "a.*.com"}}, "match.hosts[1]", "whole first label"},
		{configs.Match{Hosts: []string{"*example.com"}}, "match.hosts[0]", "whole first label"},
		{configs.Match{Hosts: []string{"*.*.example.com"}}, "match.hosts[0]", "letters, digits"},
		{configs.Match{Hosts: []string{"*."}}, "match.hosts[0]", "leave hosts out"},
		{configs.Match{Hosts: []string{"*..com"}}, "match.hosts[0]", "1 to 63"},
		{configs.Match{Hosts: []string{"a..b"}}, "match.hosts[0]", "1 to 63"},
		{configs.Match{Hosts: []string{"api.example.com:443"}}, "match.hosts[0]", "no port"},
		{configs.Match{Hosts: []string{"[nope]"}}, "match.hosts[0]", "IPv6"},
		{configs.Match{Hosts: []string{""}}, "match.hosts[0]", "empty host"},
		{configs.Match{Hosts: []string{"a b"}}, "match.hosts[0]", "letters, digits"},
		{configs.Match{Methods: []string{"GET", "GE T"}}, "match.methods[1]", `bad method "GE T"`},
		{configs.Match{Methods: []string{""}}, "match.methods[0]", "bad method"},
		{configs.Match{Headers: []configs.ValueMatch{{Name: "X:y"}}}, "match.headers[0]", "bad header name"},
		{configs.Match{Headers: []configs.ValueMatch{{Name: "Host", Value: "a"}}}, "match.headers[0]", "match.hosts"},
		{configs.Match{Headers: []configs.ValueMatch{{Name: "X", Value: "a", Regex: "b"}}}, "match.headers[0]", "cannot both"},
		{configs.Match{Headers: []configs.ValueMatch{{Name: "X", Regex: "("}}}, "match.headers[0]", `bad regex "("`},
		{configs.Match{Query: []configs.ValueMatch{{Name: "q", Value: "1", Present: ptr(false)}}}, "match.query[0]", "present: false"},
		{configs.Match{Query: []configs.ValueMatch{{Name: ""}}}, "match.query[0]", "empty query parameter name"},
	}
	for _, tt := range tests {
		errs := compileErrors(t, []def{{"fine", configs.Match{Path: "/fine"}}, {"bad", tt.m}})
		if len(errs) != 1 {
			t.Errorf("%+v: got %d errors: %v", tt.m, len(errs), errs)
			continue
		}
		e := errs[0]
		if e.Name != "bad" || e.Index != 1 || e.Field != tt.field || !strings.Contains(e.Error(), tt.msg) {
			t.Errorf("%+v: got %q (field %q), want field %q and %q", tt.m, e, e.Field, tt.field, tt.msg)
		}
	}
}

func TestCompileReportsEveryProblem(t *testing.T) {
	errs := compileErrors(t, []def{
		{"a", configs.Match{Hosts: []string{"*"}, Regex: "(", Methods: []string{"G T"}}},
		{"b", configs.Match{Path: "/ok"}},
		{"c", configs.Match{Template: "/{x"}},
	})
	var got []string
	for _, e := range errs {
		got = append(got, e.Path())
	}
	want := "routes[0].match.hosts[0] routes[0].match.regex routes[0].match.methods[0] routes[2].match.template"
	if strings.Join(got, " ") != want {
		t.Errorf("error paths = %v, want %s", got, want)
	}
	if s := errs[0].Error(); !strings.HasPrefix(s, `route "a" (routes[0].match.hosts[0]): host "*"`) {
		t.Errorf("error text = %q", s)
	}
}

func TestConflicts(t *testing.T) {
	tests := []struct {
		name      string
		defs      []def
		conflicts []string // names of the routes reported, "" for none
		msg       string
	}{
		{"same path", []def{{"a", configs.Match{Path: "/x"}}, {"b", configs.Match{Path: "/x"}}}, []string{"b"}, `earlier route "a" (routes[0]) has the same conditions`},
		{"template names and path", []def{{"a", configs.Match{Template: "/x/{id}/**"}}, {"b", configs.Match{Template: "/x/*/{rest=**}"}}}, []string{"b"}, ""},
		{"literal template is a path", []def{{"a", configs.Match{Path: "/x/y"}}, {"b", configs.Match{Template: "/x/y"}}, {"c", configs.Match{Regex: "/x/y"}}}, []string{"b", "c"}, ""},
		{"method order and case", []def{{"a", configs.Match{Prefix: "/", Methods: []string{"GET", "post"}}}, {"b", configs.Match{Prefix: "/", Methods: []string{"POST", "GET", "GET"}}}}, []string{"b"}, ""},
		{"header order and case", []def{
			{"a", configs.Match{Headers: []configs.ValueMatch{{Name: "x-a", Value: "1"}, {Name: "X-B"}}}},
			{"b", configs.Match{Headers: []configs.ValueMatch{{Name: "X-b", Present: ptr(true)}, {Name: "X-A", Value: "1"}}}},
		}, []string{"b"}, ""},
		{"hosts covered", []def{
			{"a", configs.Match{Hosts: []string{"a.com"}, Prefix: "/"}},
			{"b", configs.Match{Hosts: []string{"*.b.com"}, Prefix: "/"}},
			{"c", configs.Match{Hosts: []string{"*.B.com", "A.com."}, Prefix: "/"}},
		}, []string{"c"}, `earlier routes "b" (routes[1]) and "a" (routes[0]) have the same hosts and conditions`},
		{"no host", []def{{"a", configs.Match{}}, {"b", configs.Match{}}, {"c", configs.Match{}}}, []string{"b", "c"}, ""},
		{"one new host is enough", []def{{"a", configs.Match{Hosts: []string{"a.com"}}}, {"b", configs.Match{Hosts: []string{"a.com", "b.com"}}}}, nil, ""},
		{"different values", []def{
			{"a", configs.Match{Query: []configs.ValueMatch{{Name: "q", Value: "1"}}}},
			{"b", configs.Match{Query: []configs.ValueMatch{{Name: "q", Value: "2"}}}},
			{"c", configs.Match{Query: []configs.ValueMatch{{Name: "q", Regex: "1"}}}},
			{"d", configs.Match{Headers: []configs.ValueMatch{{Name: "q", Value: "1"}}}},
		}, nil, ""},
		{"kinds differ", []def{{"a", configs.Match{Prefix: "/x"}}, {"b", configs.Match{Regex: "/x.*"}}, {"c", configs.Match{Template: "/x/**"}}}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entries := make([]Entry[string], len(tt.defs))
			for i, d := range tt.defs {
				entries[i] = Entry[string]{Name: d.name, Match: d.m, Index: i}
			}
			_, err := Compile(entries)
			if tt.conflicts == nil {
				if err != nil {
					t.Fatalf("Compile: %v", err)
				}
				return
			}
			errs := compileErrors(t, tt.defs)
			var names []string
			for _, e := range errs {
				if !errors.Is(e, ErrNeverMatches) || e.Field != "match" {
					t.Errorf("unexpected error %v", e)
				}
				names = append(names, e.Name)
			}
			if strings.Join(names, ",") != strings.Join(tt.conflicts, ",") {
				t.Errorf("conflicting routes = %v, want %v", names, tt.conflicts)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q lacks %q", err, tt.msg)
			}
		})
	}
}
