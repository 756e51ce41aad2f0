package aggregate_test

import (
	"net/http"
	"testing"

	"github.com/bouncer-proxy/bouncer/l7/aggregate"
)

// TestNewErrors checks that New refuses bad options with a message that
// names the call, the field and the position.
func TestNewErrors(t *testing.T) {
	targets := aggregate.Targets{"t": http.NotFoundHandler()}
	c := func(name, path string) aggregate.Call { return aggregate.Call{Name: name, Target: "t", Path: path} }
	with := func(call aggregate.Call, f func(*aggregate.Call)) aggregate.Call { f(&call); return call }
	tests := []struct {
		name string
		opts aggregate.Options
		want string
	}{
		{"no calls", aggregate.Options{}, "aggregate: no calls"},
		{"bad merge", aggregate.Options{Merge: "zip", Calls: []aggregate.Call{c("a", "/")}}, `aggregate: merge "zip": want "keys" or "merge"`},
		{"bad on_error", aggregate.Options{OnError: "ignore", Calls: []aggregate.Call{c("a", "/")}}, `aggregate: on_error "ignore": want "fail" or "partial"`},
		{"cycle", aggregate.Options{Calls: []aggregate.Call{c("a", "/{calls.b.body.id}"), c("b", "/{calls.c.status}"),
			with(c("c", "/"), func(c *aggregate.Call) { c.After = []string{"a"} })}}, "aggregate: dependency cycle: a -> b -> c -> a"},
		{"self", aggregate.Options{Calls: []aggregate.Call{c("a", "/{calls.a.status}")}}, "aggregate: dependency cycle: a -> a"},
		{"unknown source", aggregate.Options{Calls: []aggregate.Call{c("a", "/users/{qurey.id}")}},
			`aggregate: call "a": path: position 7: placeholder {qurey.id}: unknown source "qurey" (want path, query, header, identity or calls)`},
		{"unknown call", aggregate.Options{Calls: []aggregate.Call{c("a", "/{calls.b.body}")}},
			`aggregate: call "a": path: position 1: placeholder {calls.b.body}: no call named "b"`},
		{"unknown call field", aggregate.Options{Calls: []aggregate.Call{c("a", "/"), c("b", "/{calls.a.bdy}")}},
			`aggregate: call "b": path: position 1: placeholder {calls.a.bdy}: unknown call field "bdy" (want status, body or header)`},
		{"unknown identity field", aggregate.Options{Calls: []aggregate.Call{c("a", "/{identity.name}")}},
			`aggregate: call "a": path: position 1: placeholder {identity.name}: unknown identity field "name" (want consumer, subject, method, claims or metadata)`},
		{"unclosed", aggregate.Options{Calls: []aggregate.Call{c("a", "/x/{path.id")}}, `aggregate: call "a": path: position 3: '{' without '}'`},
		{"stray brace", aggregate.Options{Calls: []aggregate.Call{c("a", "/x}")}}, `aggregate: call "a": path: position 2: '}' without '{'`},
		{"bad character", aggregate.Options{Calls: []aggregate.Call{c("a", "/{path.a b}")}},
			`aggregate: call "a": path: position 1: placeholder {path.a b}: character ' ' not allowed`},
		{"query in path", aggregate.Options{Calls: []aggregate.Call{c("a", "/x?y=1")}},
			`aggregate: call "a": path: position 2: character '?' not allowed (query parameters go in query)`},
		{"relative path", aggregate.Options{Calls: []aggregate.Call{c("a", "x")}}, `aggregate: call "a": path: must start with '/'`},
		{"bad escape", aggregate.Options{Calls: []aggregate.Call{c("a", "/{path.id}%zz")}}, `aggregate: call "a": path: position 10: bad escape`},
		{"query template", aggregate.Options{Calls: []aggregate.Call{with(c("a", "/"), func(c *aggregate.Call) {
			c.Query = map[string]string{"q": "x{header.}"}
		})}}, `aggregate: call "a": query[q]: position 1: placeholder {header.}: bad header name ""`},
		{"reserved header", aggregate.Options{Calls: []aggregate.Call{with(c("a", "/"), func(c *aggregate.Call) {
			c.Headers = map[string]string{"host": "x"}
		})}}, `aggregate: call "a": headers: Host cannot be set`},
		{"body not JSON", aggregate.Options{Calls: []aggregate.Call{with(c("a", "/"), func(c *aggregate.Call) {
			c.Body = `{"a": {query.x}`
		})}}, `aggregate: call "a": body: not a JSON template: unexpected end of JSON input`},
		{"body placeholder", aggregate.Options{Calls: []aggregate.Call{with(c("a", "/"), func(c *aggregate.Call) {
			c.Body = `{"a": "{calls.zz.status}"}`
		})}}, `aggregate: call "a": body: position 7: placeholder {calls.zz.status}: no call named "zz"`},
		{"unknown target", aggregate.Options{Calls: []aggregate.Call{{Name: "a", Target: "nope", Path: "/"}}}, `aggregate: call "a": unknown target "nope"`},
		{"duplicate", aggregate.Options{Calls: []aggregate.Call{c("a", "/"), c("a", "/")}}, `aggregate: calls[1]: duplicate name "a"`},
		{"reserved name", aggregate.Options{Calls: []aggregate.Call{c("_errors", "/")}},
			`aggregate: calls[0]: name "_errors": names starting with '_' are reserved`},
		{"dotted name", aggregate.Options{Calls: []aggregate.Call{c("a.b", "/")}},
			`aggregate: calls[0]: name "a.b": character '.' not allowed (letters, digits, '_', '-')`},
		{"unknown after", aggregate.Options{Calls: []aggregate.Call{with(c("a", "/"), func(c *aggregate.Call) { c.After = []string{"z"} })}},
			`aggregate: call "a": after: no call named "z"`},
		{"empty field", aggregate.Options{Calls: []aggregate.Call{with(c("a", "/"), func(c *aggregate.Call) { c.Fields = []string{"a..b"} })}},
			`aggregate: call "a": fields[0]: empty field name in "a..b"`},
		{"bad method", aggregate.Options{Calls: []aggregate.Call{with(c("a", "/"), func(c *aggregate.Call) { c.Method = "GE T" })}},
			`aggregate: call "a": bad method "GE T"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := aggregate.New(tc.opts, targets)
			if err == nil || err.Error() != tc.want {
				t.Errorf("got  %v\nwant %s", err, tc.want)
			}
		})
	}
}

// TestNewAccepts compiles templates that use every source.
func TestNewAccepts(t *testing.T) {
	targets := aggregate.Targets{"t": http.NotFoundHandler()}
	_, err := aggregate.New(aggregate.Options{Calls: []aggregate.Call{
		{Name: "a", Target: "t", Path: "/a%2Fb/{path.id}/{query.x}.json"},
		{Name: "b", Target: "t", Method: http.MethodPost, Path: "/{calls.a.body.items.0.id}",
			Headers: map[string]string{"X-A": "{identity.consumer}-{identity.claims.org.id}", "X-B": "{calls.a.header.etag}"},
			Body:    `{"a": {calls.a.body}, "s": "{identity.metadata.plan} {not a placeholder} {x}", "n": [1, {calls.a.status}], "o": {}}`},
	}}, targets)
	if err != nil {
		t.Fatal(err)
	}
}
