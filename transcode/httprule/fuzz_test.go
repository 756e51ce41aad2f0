package httprule

import (
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The seed corpora are in testdata/fuzz/FuzzParse and testdata/fuzz/FuzzLookup.

// FuzzParse checks that Parse never panics, that the canonical form of a
// template parses again to itself, and that a path built from a template
// is matched by a router holding it.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		tmpl, err := Parse(s)
		if err != nil {
			return
		}
		again, err := Parse(tmpl.String())
		if err != nil {
			t.Fatalf("Parse(%q).String() = %q does not parse: %v", s, tmpl.String(), err)
		}
		if again.String() != tmpl.String() || again.Verb() != tmpl.Verb() || !reflect.DeepEqual(again.Vars(), tmpl.Vars()) {
			t.Fatalf("reparse of %q: %q %q %v, want %q %q %v", s, again, again.Verb(), again.Vars(), tmpl, tmpl.Verb(), tmpl.Vars())
		}
		var b Builder[int]
		if err := b.Add("GET", tmpl, 7); err != nil {
			t.Fatal(err)
		}
		path := samplePath(tmpl)
		m, _, found, err := b.Build().Lookup("GET", path)
		if err != nil || !found || m.Value != 7 || len(m.Vars) != len(tmpl.vars) {
			t.Fatalf("template %q, path %q: match %v %v %v", tmpl, path, m, found, err)
		}
	})
}

// samplePath is a path the template matches: "x" for "*", "y/z" for "**".
func samplePath(t *Template) string {
	var b strings.Builder
	for _, s := range t.segs {
		switch s.kind {
		case wildSeg:
			b.WriteString("/x")
		case multiSeg:
			b.WriteString("/y/z")
		default:
			b.WriteString("/" + s.lit)
		}
	}
	if len(t.segs) == 0 {
		b.WriteByte('/')
	}
	if t.verb != "" {
		b.WriteString(":" + t.verb)
	}
	return b.String()
}

// fuzzRoutes is the router FuzzLookup queries.
var fuzzRoutes = []route{
	{"GET", "/"},
	{"GET", "/v1/shelves/{shelf}/books/{book}"},
	{"GET", "/v1/shelves/special/books/{book}"},
	{"GET", "/v1/shelves/{shelf}/books/special"},
	{"GET", "/v1/shelves/special/**"},
	{"GET", "/v1/{name=**}"},
	{"GET", "/v1/{name=shelves/*}:publish"},
	{"GET", "/v1/{a}/{b=x/**}:publish"},
	{"GET", "/v1/b%6Fok/{id}"},
	{"GET", "/v1/a%2Fb/*"},
	{"POST", "/v1/shelves"},
	{"POST", "/v1/{x}"},
	{"POST", "/v1/{x}:publish"},
	{"POST", "/**:cancel"},
	{"DELETE", "/v1/shelves/{shelf}"},
	{"PURGE", "/v1/{n=shelves/*/books/*}"},
	{"PURGE", "/{p}/{q}/{r}"},
}

// FuzzLookup checks Lookup against a plain reference matcher: it never
// panics, and its match, variables, allowed list and error agree.
func FuzzLookup(f *testing.F) {
	r := build(f, fuzzRoutes)
	tmpls := make([]*Template, len(fuzzRoutes))
	for i, rt := range fuzzRoutes {
		tmpls[i] = mustParse(f, rt.tmpl)
	}
	f.Fuzz(func(t *testing.T, method, path string) {
		m, allowed, found, err := r.Lookup(method, path)
		if (err != nil) != (badEscape(path) >= 0) {
			t.Fatalf("Lookup(%q): err = %v", path, err)
		}
		if err != nil {
			return
		}
		wantIdx, wantVars := refLookup(tmpls, method, path)
		want := ""
		if wantIdx >= 0 {
			want = fuzzRoutes[wantIdx].method + " " + fuzzRoutes[wantIdx].tmpl
		}
		if found != (wantIdx >= 0) || m.Value != want || !reflect.DeepEqual(m.Vars, wantVars) {
			t.Fatalf("%s %q: got %v %q %q, reference %q %q", method, path, found, m.Value, m.Vars, want, wantVars)
		}
		var wantAllowed []string
		for _, other := range []string{"DELETE", "GET", "POST", "PURGE"} {
			if other == method || found {
				continue
			}
			if i, _ := refLookup(tmpls, other, path); i >= 0 {
				wantAllowed = append(wantAllowed, other)
			}
		}
		if !slices.Equal(allowed, wantAllowed) {
			t.Fatalf("%s %q: allowed %q, reference %q", method, path, allowed, wantAllowed)
		}
	})
}

// refLookup is the reference: every template of method is matched on its
// own, with the verb first, and the best match wins (literal before "*"
// before "**", segment by segment).
func refLookup(tmpls []*Template, method, path string) (int, []VarValue) {
	if !strings.HasPrefix(path, "/") {
		return -1, nil
	}
	last := path[strings.LastIndex(path, "/")+1:]
	if c := strings.LastIndex(last, ":"); c >= 0 && c < len(last)-1 {
		verb := refNormalize(last[c+1:])
		trimmed := strings.TrimSuffix(path, ":"+last[c+1:])
		if i, vars := refBest(tmpls, method, trimmed, verb); i >= 0 {
			return i, vars
		}
	}
	return refBest(tmpls, method, path, "")
}

func refBest(tmpls []*Template, method, path, verb string) (int, []VarValue) {
	best, bestVars := -1, []VarValue(nil)
	for i, tmpl := range tmpls {
		if fuzzRoutes[i].method != method || tmpl.verb != verb {
			continue
		}
		vars, ok := refMatch(tmpl, path)
		if ok && (best < 0 || refBetter(tmpl, tmpls[best])) {
			best, bestVars = i, vars
		}
	}
	return best, bestVars
}

// refBetter compares the segment kinds of two templates that match the same
// path; the one that ends first beats a "**" matching nothing.
func refBetter(a, b *Template) bool {
	for i := 0; ; i++ {
		switch {
		case i == len(a.segs):
			return true
		case i == len(b.segs):
			return false
		case a.segs[i].kind != b.segs[i].kind:
			return a.segs[i].kind < b.segs[i].kind
		}
	}
}

// refMatch matches one template on its own, by splitting the path.
func refMatch(t *Template, path string) ([]VarValue, bool) {
	var segs []string
	if path != "/" {
		segs = strings.Split(path[1:], "/")
	}
	n := len(t.segs)
	multi := n > 0 && t.segs[n-1].kind == multiSeg
	if len(segs) != n && !(multi && len(segs) >= n-1) {
		return nil, false
	}
	for i, s := range t.segs {
		switch {
		case s.kind == literalSeg && refNormalize(segs[i]) != s.lit:
			return nil, false
		case s.kind == wildSeg && segs[i] == "":
			return nil, false
		}
	}
	var vars []VarValue
	for _, v := range t.vars {
		end := v.end
		if end == n && multi {
			end = len(segs)
		}
		raw := strings.Join(segs[min(v.start, len(segs)):end], "/")
		vars = append(vars, VarValue{FieldPath: v.FieldPath, Value: refDecode(raw, v.Multi)})
	}
	return vars, true
}

var escapeRE = regexp.MustCompile(`%[0-9A-Fa-f]{2}`)
var slashRE = regexp.MustCompile(`%2[Ff]`)

// refNormalize decodes escapes of unreserved characters and upper-cases
// the others.
func refNormalize(s string) string {
	return escapeRE.ReplaceAllStringFunc(s, func(e string) string {
		d, _ := url.PathUnescape(e)
		if strings.ContainsAny(d, "-._~") || len(d) == 1 && (d[0] >= 'a' && d[0] <= 'z' || d[0] >= 'A' && d[0] <= 'Z' || d[0] >= '0' && d[0] <= '9') {
			return d
		}
		return strings.ToUpper(e)
	})
}

// refDecode decodes s fully, or around "%2F"/"%2f" when keepSlash.
func refDecode(s string, keepSlash bool) string {
	if !keepSlash {
		d, _ := url.PathUnescape(s)
		return d
	}
	var b strings.Builder
	prev := 0
	for _, loc := range slashRE.FindAllStringIndex(s, -1) {
		d, _ := url.PathUnescape(s[prev:loc[0]])
		b.WriteString(d + s[loc[0]:loc[1]])
		prev = loc[1]
	}
	d, _ := url.PathUnescape(s[prev:])
	return b.String() + d
}
