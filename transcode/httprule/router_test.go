package httprule

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// route is one template registered under a method; tests register the
// template text as the value so that a match names its template.
type route struct{ method, tmpl string }

func mustParse(t testing.TB, s string) *Template {
	t.Helper()
	tmpl, err := Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return tmpl
}

func build(t testing.TB, routes []route) *Router[string] {
	t.Helper()
	var b Builder[string]
	for _, r := range routes {
		if err := b.Add(r.method, mustParse(t, r.tmpl), r.method+" "+r.tmpl); err != nil {
			t.Fatal(err)
		}
	}
	return b.Build()
}

// lookupCase is a request and what the router should answer: the value
// ("" when not found), the variables, the allowed methods, an error.
type lookupCase struct {
	method, path string
	want         string
	vars         []VarValue
	allowed      []string
	err          error
}

func checkLookup(t *testing.T, r *Router[string], tc lookupCase) {
	t.Helper()
	m, allowed, found, err := r.Lookup(tc.method, tc.path)
	if !errors.Is(err, tc.err) {
		t.Fatalf("%s %s: err = %v, want %v", tc.method, tc.path, err, tc.err)
	}
	if found != (tc.want != "") || m.Value != tc.want {
		t.Errorf("%s %s: found=%v value=%q, want %q", tc.method, tc.path, found, m.Value, tc.want)
	}
	if !reflect.DeepEqual(m.Vars, tc.vars) {
		t.Errorf("%s %s: vars = %q, want %q", tc.method, tc.path, m.Vars, tc.vars)
	}
	if !reflect.DeepEqual(allowed, tc.allowed) {
		t.Errorf("%s %s: allowed = %q, want %q", tc.method, tc.path, allowed, tc.allowed)
	}
}

func vv(pairs ...string) []VarValue {
	var out []VarValue
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, VarValue{FieldPath: pairs[i], Value: pairs[i+1]})
	}
	return out
}

// TestPrecedence registers the same templates in many orders: the winner
// of each path must never change.
func TestPrecedence(t *testing.T) {
	routes := []route{
		{"GET", "/v1/shelves/{shelf}/books/{book}"},
		{"GET", "/v1/shelves/special/books/{book}"},
		{"GET", "/v1/shelves/{shelf}/books/special"},
		{"GET", "/v1/shelves/special/**"},
		{"GET", "/v1/shelves/*/books/*/pages/**"},
		{"GET", "/v1/{name=**}"},
		{"GET", "/v1/shelves/{shelf}"},
		{"GET", "/a/b/c"},
		{"GET", "/a/*/d"},
	}
	cases := []lookupCase{
		{method: "GET", path: "/v1/shelves/special/books/special", want: "GET /v1/shelves/special/books/{book}", vars: vv("book", "special")},
		{method: "GET", path: "/v1/shelves/x/books/special", want: "GET /v1/shelves/{shelf}/books/special", vars: vv("shelf", "x")},
		{method: "GET", path: "/v1/shelves/x/books/y", want: "GET /v1/shelves/{shelf}/books/{book}", vars: vv("shelf", "x", "book", "y")},
		{method: "GET", path: "/v1/shelves/special/books", want: "GET /v1/shelves/special/**"},
		// The literal segment wins before "**" has to match zero segments.
		{method: "GET", path: "/v1/shelves/special", want: "GET /v1/shelves/special/**"},
		{method: "GET", path: "/v1/shelves/x", want: "GET /v1/shelves/{shelf}", vars: vv("shelf", "x")},
		{method: "GET", path: "/v1/shelves/x/books/y/pages", want: "GET /v1/shelves/*/books/*/pages/**"},
		{method: "GET", path: "/v1/shelves/x/books/y/pages/1/2", want: "GET /v1/shelves/*/books/*/pages/**"},
		{method: "GET", path: "/v1/shelves/x/books/y/z", want: "GET /v1/{name=**}", vars: vv("name", "shelves/x/books/y/z")},
		{method: "GET", path: "/v1/other", want: "GET /v1/{name=**}", vars: vv("name", "other")},
		{method: "GET", path: "/v1", want: "GET /v1/{name=**}", vars: vv("name", "")},
		{method: "GET", path: "/a/b/c", want: "GET /a/b/c"},
		{method: "GET", path: "/a/b/d", want: "GET /a/*/d"},
		{method: "GET", path: "/a/b/e"},
		{method: "GET", path: "/v2"},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 100 {
		order := append([]route(nil), routes...)
		if round > 0 {
			rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		} else {
			// Round 0: most general first, the order most likely to expose a
			// first-registered-wins router.
			slicesReverse(order)
		}
		r := build(t, order)
		for _, tc := range cases {
			checkLookup(t, r, tc)
		}
		if t.Failed() {
			t.Fatalf("registration order: %v", order)
		}
	}
}

func slicesReverse(s []route) {
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
}

func TestMultiSegment(t *testing.T) {
	r := build(t, []route{
		{"GET", "/**"},
		{"GET", "/files/{path=**}"},
		{"GET", "/v1/{name=projects/*/locations/**}"},
		{"GET", "/v1/x/{rest=**}:list"},
	})
	for _, tc := range []lookupCase{
		{method: "GET", path: "/", want: "GET /**"},
		{method: "GET", path: "/anything/at/all", want: "GET /**"},
		{method: "GET", path: "/files", want: "GET /files/{path=**}", vars: vv("path", "")},
		{method: "GET", path: "/files/", want: "GET /files/{path=**}", vars: vv("path", "")},
		{method: "GET", path: "/files/a", want: "GET /files/{path=**}", vars: vv("path", "a")},
		{method: "GET", path: "/files/a/b/", want: "GET /files/{path=**}", vars: vv("path", "a/b/")},
		{method: "GET", path: "/files//a", want: "GET /files/{path=**}", vars: vv("path", "/a")},
		{method: "GET", path: "/v1/projects/p/locations", want: "GET /v1/{name=projects/*/locations/**}", vars: vv("name", "projects/p/locations")},
		{method: "GET", path: "/v1/projects/p/locations/l/x", want: "GET /v1/{name=projects/*/locations/**}", vars: vv("name", "projects/p/locations/l/x")},
		{method: "GET", path: "/v1/x:list", want: "GET /v1/x/{rest=**}:list", vars: vv("rest", "")},
		{method: "GET", path: "/v1/x/a/b:list", want: "GET /v1/x/{rest=**}:list", vars: vv("rest", "a/b")},
	} {
		checkLookup(t, r, tc)
	}
}

func TestTrailingSlashAndRoot(t *testing.T) {
	r := build(t, []route{
		{"GET", "/"},
		{"GET", "/v1/shelves"},
		{"GET", "/v1/shelves/{id}/books"},
	})
	for _, tc := range []lookupCase{
		{method: "GET", path: "/", want: "GET /"},
		{method: "GET", path: "/v1/shelves", want: "GET /v1/shelves"},
		{method: "GET", path: "/v1/shelves/"},
		{method: "GET", path: "/v1/shelves//books"},
		{method: "GET", path: "/v1/shelves/1/books/"},
		{method: "GET", path: "//"},
		{method: "GET", path: ""},
		{method: "GET", path: "*"},
		{method: "GET", path: "v1/shelves"},
	} {
		checkLookup(t, r, tc)
	}
}

func TestVerbs(t *testing.T) {
	r := build(t, []route{
		{"POST", "/v1/{name=shelves/*}:publish"},
		{"POST", "/v1/shelves/{id}"},
		{"POST", "/v1/{x}"},
		{"POST", "/v1/shelves/{id}:archive"},
		{"GET", "/v1/shelves/{id}"},
		{"GET", "/v1/ops:list"},
	})
	for _, tc := range []lookupCase{
		{method: "POST", path: "/v1/shelves/1:publish", want: "POST /v1/{name=shelves/*}:publish", vars: vv("name", "shelves/1")},
		{method: "POST", path: "/v1/shelves/1:pub%6Cish", want: "POST /v1/{name=shelves/*}:publish", vars: vv("name", "shelves/1")},
		{method: "POST", path: "/v1/shelves/1:archive", want: "POST /v1/shelves/{id}:archive", vars: vv("id", "1")},
		{method: "POST", path: "/v1/shelves/a:b:archive", want: "POST /v1/shelves/{id}:archive", vars: vv("id", "a:b")},
		// An unknown verb is part of the last segment.
		{method: "POST", path: "/v1/shelves/1:unknown", want: "POST /v1/shelves/{id}", vars: vv("id", "1:unknown")},
		// An escaped colon is not a verb separator.
		{method: "POST", path: "/v1/shelves/1%3Apublish", want: "POST /v1/shelves/{id}", vars: vv("id", "1:publish")},
		// The verb's templates do not match: tried again as a plain path.
		{method: "POST", path: "/v1/a:publish", want: "POST /v1/{x}", vars: vv("x", "a:publish")},
		{method: "POST", path: "/v1/shelves/1", want: "POST /v1/shelves/{id}", vars: vv("id", "1")},
		{method: "GET", path: "/v1/ops:list", want: "GET /v1/ops:list"},
		{method: "GET", path: "/v1/ops", allowed: []string{"POST"}},
		{method: "GET", path: "/v1/ops:other", allowed: []string{"POST"}},
		{method: "GET", path: "/v1/shelves/1:publish", want: "GET /v1/shelves/{id}", vars: vv("id", "1:publish")},
		{method: "PUT", path: "/v1/shelves/1:publish", allowed: []string{"GET", "POST"}},
	} {
		checkLookup(t, r, tc)
	}
}

func TestMethodNotAllowed(t *testing.T) {
	r := build(t, []route{
		{"GET", "/v1/shelves/{id}"},
		{"DELETE", "/v1/shelves/{id}"},
		{"PATCH", "/v1/shelves/{id}"},
		{"POST", "/v1/shelves"},
		{"PURGE", "/v1/shelves/**"},
		{"GET", "/v1/{x}"},
		{"POST", "/v1/special"},
	})
	for _, tc := range []lookupCase{
		{method: "PUT", path: "/v1/shelves/1", allowed: []string{"DELETE", "GET", "PATCH", "PURGE"}},
		{method: "PUT", path: "/v1/shelves", allowed: []string{"GET", "POST", "PURGE"}},
		{method: "GET", path: "/v1/shelves/1/x", allowed: []string{"PURGE"}},
		{method: "PURGE", path: "/v1/shelves", want: "PURGE /v1/shelves/**"},
		{method: "get", path: "/v1/shelves/1", allowed: []string{"DELETE", "GET", "PATCH", "PURGE"}},
		// The literal under POST does not hide GET's variable.
		{method: "GET", path: "/v1/special", want: "GET /v1/{x}", vars: vv("x", "special")},
		{method: "PUT", path: "/v2"},
	} {
		checkLookup(t, r, tc)
	}
}

func TestDecoding(t *testing.T) {
	r := build(t, []route{
		{"GET", "/v1/book"},
		{"GET", "/v1/a%2fb"},
		{"GET", "/v1/x/{name}"},
		{"GET", "/v1/{name=shelves/*}"},
		{"GET", "/v1/{name=files/**}"},
		{"GET", "/v1/lit/{name=exact}"},
	})
	for _, tc := range []lookupCase{
		{method: "GET", path: "/v1/b%6Fok", want: "GET /v1/book"},
		{method: "GET", path: "/v1/b%6fok", want: "GET /v1/book"},
		{method: "GET", path: "/v1/book%2F"},
		{method: "GET", path: "/v1/a%2Fb", want: "GET /v1/a%2fb"},
		{method: "GET", path: "/v1/a%2fb", want: "GET /v1/a%2fb"},
		{method: "GET", path: "/v1/a/b"},
		{method: "GET", path: "/v1/x/a%2Fb", want: "GET /v1/x/{name}", vars: vv("name", "a/b")},
		{method: "GET", path: "/v1/x/caf%C3%A9%20%25", want: "GET /v1/x/{name}", vars: vv("name", "café %")},
		{method: "GET", path: "/v1/x/a+b", want: "GET /v1/x/{name}", vars: vv("name", "a+b")},
		{method: "GET", path: "/v1/shelves/a%2Fb%20c", want: "GET /v1/{name=shelves/*}", vars: vv("name", "shelves/a%2Fb c")},
		{method: "GET", path: "/v1/sh%65lves/a%2fb", want: "GET /v1/{name=shelves/*}", vars: vv("name", "shelves/a%2fb")},
		{method: "GET", path: "/v1/files/x/y%2Fz%41", want: "GET /v1/{name=files/**}", vars: vv("name", "files/x/y%2FzA")},
		{method: "GET", path: "/v1/lit/ex%61ct", want: "GET /v1/lit/{name=exact}", vars: vv("name", "exact")},
		{method: "GET", path: "/v1/x/%zz", err: ErrBadEscape},
		{method: "GET", path: "/v1/x/a%4", err: ErrBadEscape},
		{method: "GET", path: "/v1/x/a%", err: ErrBadEscape},
		{method: "GET", path: "/nowhere/%g0", err: ErrBadEscape},
	} {
		checkLookup(t, r, tc)
	}
}

func TestDuplicates(t *testing.T) {
	tests := []struct {
		first, second route
		dup           bool
	}{
		{route{"GET", "/v1/{name=shelves/*}"}, route{"GET", "/v1/shelves/{id}"}, true},
		{route{"GET", "/v1/{a}"}, route{"GET", "/v1/*"}, true},
		{route{"GET", "/v1/{a=**}:x"}, route{"GET", "/v1/**:x"}, true},
		{route{"GET", "/v1/book"}, route{"GET", "/v1/b%6Fok"}, true},
		{route{"GET", "/v1/{a}"}, route{"POST", "/v1/{a}"}, false},
		{route{"GET", "/v1/*"}, route{"GET", "/v1/**"}, false},
		{route{"GET", "/v1/*"}, route{"GET", "/v1/*:x"}, false},
		{route{"GET", "/v1/*:x"}, route{"GET", "/v1/*:y"}, false},
		{route{"GET", "/v1/a"}, route{"get", "/v1/a"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.first.tmpl+" "+tt.second.tmpl, func(t *testing.T) {
			var b Builder[int]
			if err := b.Add(tt.first.method, mustParse(t, tt.first.tmpl), 1); err != nil {
				t.Fatal(err)
			}
			err := b.Add(tt.second.method, mustParse(t, tt.second.tmpl), 2)
			if !tt.dup {
				if err != nil {
					t.Fatalf("Add: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrDuplicate) || !strings.Contains(err.Error(), tt.first.tmpl) || !strings.Contains(err.Error(), tt.second.tmpl) {
				t.Fatalf("Add = %v, want ErrDuplicate naming both templates", err)
			}
			// The first registration stays in force.
			m, _, found, _ := b.Build().Lookup(tt.first.method, "/v1/book")
			if tt.first.tmpl == "/v1/book" && (!found || m.Value != 1) {
				t.Fatalf("Lookup = %v %v, want the first value", m, found)
			}
		})
	}
}

func TestAddRejects(t *testing.T) {
	var b Builder[int]
	tmpl := mustParse(t, "/v1")
	for _, method := range []string{"", "GE T", "GET\n", "GÉT"} {
		if err := b.Add(method, tmpl, 1); err == nil {
			t.Errorf("Add(%q) accepted", method)
		}
	}
	if err := b.Add("GET", nil, 1); err == nil {
		t.Error("Add(nil template) accepted")
	}
}

// TestBuildSnapshot checks that a built router does not see later Adds.
func TestBuildSnapshot(t *testing.T) {
	var b Builder[int]
	if err := b.Add("GET", mustParse(t, "/a"), 1); err != nil {
		t.Fatal(err)
	}
	first := b.Build()
	if err := b.Add("GET", mustParse(t, "/b"), 2); err != nil {
		t.Fatal(err)
	}
	if _, _, found, _ := first.Lookup("GET", "/b"); found {
		t.Fatal("a router built before Add sees the new template")
	}
	if _, _, found, _ := b.Build().Lookup("GET", "/b"); !found {
		t.Fatal("a router built after Add misses the new template")
	}
	var empty *Router[int]
	if _, allowed, found, err := empty.Lookup("GET", "/"); found || allowed != nil || err != nil {
		t.Fatal("a nil router matched")
	}
}

// TestConcurrentLookup runs lookups from several goroutines (under -race).
func TestConcurrentLookup(t *testing.T) {
	r := build(t, []route{{"GET", "/v1/{name=shelves/*}"}, {"POST", "/v1/shelves"}})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 200 {
				m, _, found, err := r.Lookup("GET", "/v1/shelves/a%20b")
				if err != nil || !found || m.Vars[0].Value != "shelves/a b" {
					t.Errorf("Lookup = %v %v %v", m, found, err)
					return
				}
			}
		})
	}
	wg.Wait()
}
