package openapi

import (
	"net/http"
	"testing"
)

// TestPathTemplates checks the conversion of templates to OpenAPI paths
// and their path parameters.
func TestPathTemplates(t *testing.T) {
	echo := library(t).Methods().ByName("Echo") // input Everything
	cases := []struct {
		tmpl, path, params string
	}{
		{"/v1/{string_field=shelves/*/books/*}", "/v1/{string_field}",
			`[{"name":"string_field","pattern":"^shelves/[^/]+/books/[^/]+$","multi":true}]`},
		{"/v1/{string_field}", "/v1/{string_field}", `[{"name":"string_field"}]`},
		{"/v1/*/x/{string_field}", "/v1/{_segment2}/x/{string_field}", `[{"name":"_segment2"},{"name":"string_field"}]`},
		{"/v1/{string_field=**}", "/v1/{string_field}", `[{"name":"string_field","pattern":"^.*$","multi":true}]`},
		{"/v1/{string_field=a.b/**}:do", "/v1/{string_field}:do", `[{"name":"string_field","pattern":"^a\\.b(/.*)?$","multi":true}]`},
		{"/v1/{string_field=docs}", "/v1/{string_field}", `[{"name":"string_field","pattern":"^docs$"}]`},
		{"/v1/**", "/v1/{_segment2}", `[{"name":"_segment2","multi":true}]`},
		{"/v1/{nested.note}/{int32_field}", "/v1/{nested.note}/{int32_field}", `[{"name":"nested.note"},{"name":"int32_field"}]`},
		{"/v1:ping", "/v1:ping", `[]`},
		{"/", "/", `[]`},
	}
	for _, c := range cases {
		t.Run(c.tmpl, func(t *testing.T) {
			doc := buildDoc(t, []Operation{newOp(t, echo, http.MethodGet, c.tmpl, "", "")}, Options{})
			paths := at(t, doc, "paths").(map[string]any)
			item, ok := paths[c.path]
			if !ok {
				t.Fatalf("paths %v, want %s", keys(paths), c.path)
			}
			var got []map[string]any
			params, _ := at(t, item, "get").(map[string]any)["parameters"].([]any)
			for _, p := range params {
				pm := p.(map[string]any)
				if pm["in"] != "path" {
					continue
				}
				g := map[string]any{"name": pm["name"]}
				if pat, ok := at(t, pm, "schema").(map[string]any)["pattern"]; ok {
					g["pattern"] = pat
				}
				if pm["x-multi-segment"] == true {
					g["multi"] = true
				}
				got = append(got, g)
			}
			if got == nil {
				got = []map[string]any{}
			}
			jsonEq(t, "path parameters", got, c.params)
			checkStructure(t, doc)
		})
	}
}

// TestPathCollisions checks that templates with the same OpenAPI path get
// suffixed parameter names, shortest template first, whatever the order
// of the operations.
func TestPathCollisions(t *testing.T) {
	echo := library(t).Methods().ByName("Echo")
	a := newOp(t, echo, http.MethodGet, "/v1/{string_field=a/*/b/*}", "", "")
	b := newOp(t, echo, http.MethodGet, "/v1/{string_field=a/*}", "", "")
	c := newOp(t, echo, http.MethodGet, "/v1/{string_field=c/*}", "", "")
	for _, ops := range [][]Operation{{a, b, c}, {c, b, a}} {
		doc := buildDoc(t, ops, Options{})
		for path, pattern := range map[string]string{
			"/v1/{string_field}":   "^a/[^/]+$",
			"/v1/{string_field_1}": "^c/[^/]+$",
			"/v1/{string_field_2}": "^a/[^/]+/b/[^/]+$",
		} {
			p := at(t, doc, "paths", path, "get", "parameters", "0")
			if got := at(t, p, "schema", "pattern"); got != pattern {
				t.Errorf("%s: pattern %v, want %s", path, got, pattern)
			}
		}
		checkStructure(t, doc)
	}
}
