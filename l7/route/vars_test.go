package route

import (
	"maps"
	"testing"
)

func TestVarsFunc(t *testing.T) {
	for _, c := range []struct {
		tmpl, path string
		want       map[string]string
	}{
		{"/v1/users/{id}", "/v1/users/7", map[string]string{"id": "7"}},
		{"/v1/{org=*}/files/{rest=**}", "/v1/acme/files/a/b/c", map[string]string{"org": "acme", "rest": "a/b/c"}},
		{"/v1/{org}/files/{rest=**}", "/v1/acme/files", map[string]string{"org": "acme", "rest": ""}},
		{"/v1/*/x/{id}", "/v1/any/x/9", map[string]string{"id": "9"}},
		// The escaped path: %2F stays inside its segment, values are decoded.
		{"/v1/users/{id}/books/{b}", "/v1/users/a%2F..%2Fb/books/7", map[string]string{"id": "a/../b", "b": "7"}},
		{"/v1/{org}/files/{rest=**}", "/v1/a%20b/files/x%2Fy/z", map[string]string{"org": "a b", "rest": "x/y/z"}},
	} {
		f, ok := VarsFunc(c.tmpl)
		if !ok {
			t.Fatalf("%s: no function", c.tmpl)
		}
		if got := f(c.path); !maps.Equal(got, c.want) {
			t.Errorf("%s on %s = %v, want %v", c.tmpl, c.path, got, c.want)
		}
	}
	if _, ok := VarsFunc("/v1/*/**"); ok {
		t.Error("a template without named variables made a function")
	}
}
