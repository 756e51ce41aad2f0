package openapi

import (
	"regexp"
	"strings"
	"testing"
)

// checkStructure checks what the OpenAPI 3.1 meta-schema and the
// specification's rules require of the parts this package writes (the
// meta-schema itself is not available offline): required fields, the
// match between path templates and path parameters, resolvable $refs,
// unique operationIds and component names of the allowed form.
func checkStructure(t *testing.T, doc map[string]any) {
	t.Helper()
	for _, k := range []string{"openapi", "info", "paths", "components"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("document without %s", k)
		}
	}
	for k := range doc {
		if !map[string]bool{"openapi": true, "info": true, "paths": true, "components": true, "tags": true}[k] {
			t.Errorf("unexpected top-level field %q", k)
		}
	}
	info := at(t, doc, "info").(map[string]any)
	if s, _ := info["title"].(string); s == "" {
		t.Error("info.title empty")
	}
	if s, _ := info["version"].(string); s == "" {
		t.Error("info.version empty")
	}
	comps := at(t, doc, "components", "schemas").(map[string]any)
	nameRE := regexp.MustCompile(`^[a-zA-Z0-9._-]+$`)
	for name := range comps {
		if !nameRE.MatchString(name) {
			t.Errorf("component name %q not allowed", name)
		}
	}
	checkRefs(t, doc, comps)
	ids := map[string]string{}
	for path, item := range at(t, doc, "paths").(map[string]any) {
		if !strings.HasPrefix(path, "/") {
			t.Errorf("path %q does not start with '/'", path)
		}
		for method, op := range operations(t, item.(map[string]any)) {
			where := method + " " + path
			id, _ := op["operationId"].(string)
			if prev, dup := ids[id]; dup || id == "" {
				t.Errorf("%s: operationId %q empty or also used by %s", where, id, prev)
			}
			ids[id] = where
			checkOperation(t, where, path, op)
		}
	}
}

var fixedMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// operations lists the operations of a path item, extension ones too.
func operations(t *testing.T, item map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	for k, v := range item {
		switch {
		case k == "x-additionalOperations":
			for m, op := range v.(map[string]any) {
				out[m] = op.(map[string]any)
			}
		case contains(fixedMethods, k):
			out[k] = v.(map[string]any)
		default:
			t.Errorf("unexpected path item field %q", k)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

var templateVar = regexp.MustCompile(`\{([^{}]+)\}`)

// checkOperation checks parameters against the path template, and the
// required fields of parameters, bodies and responses.
func checkOperation(t *testing.T, where, path string, op map[string]any) {
	t.Helper()
	inPath := map[string]bool{}
	for _, m := range templateVar.FindAllStringSubmatch(path, -1) {
		inPath[m[1]] = true
	}
	seen := map[string]bool{}
	params, _ := op["parameters"].([]any)
	for _, p := range params {
		pm := p.(map[string]any)
		name, in := pm["name"].(string), pm["in"].(string)
		if name == "" || !contains([]string{"path", "query", "header", "cookie"}, in) || pm["schema"] == nil {
			t.Errorf("%s: bad parameter %v", where, pm)
		}
		if seen[in+" "+name] {
			t.Errorf("%s: parameter %s in %s twice", where, name, in)
		}
		seen[in+" "+name] = true
		if in == "path" && (!inPath[name] || pm["required"] != true) {
			t.Errorf("%s: path parameter %s not in the path or not required", where, name)
		}
	}
	for name := range inPath {
		if !seen["path "+name] {
			t.Errorf("%s: {%s} has no parameter", where, name)
		}
	}
	if rb, ok := op["requestBody"].(map[string]any); ok {
		if c, _ := rb["content"].(map[string]any); len(c) == 0 {
			t.Errorf("%s: requestBody without content", where)
		}
	}
	responses, _ := op["responses"].(map[string]any)
	if len(responses) == 0 {
		t.Errorf("%s: no responses", where)
	}
	codeRE := regexp.MustCompile(`^([1-5][0-9][0-9]|default)$`)
	for code, r := range responses {
		if !codeRE.MatchString(code) {
			t.Errorf("%s: response key %q", where, code)
		}
		if d, _ := r.(map[string]any)["description"].(string); d == "" {
			t.Errorf("%s: response %s without description", where, code)
		}
	}
}

// checkRefs fails on a $ref that points to no component schema.
func checkRefs(t *testing.T, v any, comps map[string]any) {
	t.Helper()
	switch c := v.(type) {
	case map[string]any:
		if ref, ok := c["$ref"].(string); ok {
			name, found := strings.CutPrefix(ref, "#/components/schemas/")
			if _, exists := comps[name]; !found || !exists {
				t.Errorf("dangling $ref %q", ref)
			}
		}
		for _, x := range c {
			checkRefs(t, x, comps)
		}
	case []any:
		for _, x := range c {
			checkRefs(t, x, comps)
		}
	}
}
