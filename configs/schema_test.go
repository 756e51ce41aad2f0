package configs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

const regenerate = "run `go run ./cmd/configgen` from the repository root"

// compileSchema compiles schema.json text with the validator editors use.
func compileSchema(t *testing.T, data []byte) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("schema is not JSON: %v", err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("mem:///schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("mem:///schema.json")
	if err != nil {
		t.Fatalf("compile schema: %v", err)
	}
	return sch
}

// diskSchema compiles configs/schema.json as committed.
func diskSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	data, err := os.ReadFile("schema.json")
	if err != nil {
		t.Fatalf("%v (%s)", err, regenerate)
	}
	return compileSchema(t, data)
}

// yamlToJSON decodes YAML into the JSON data model the validator expects.
func yamlToJSON(t *testing.T, src []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(src, &v); err != nil {
		t.Fatalf("bad YAML: %v", err)
	}
	return jsonModel(v)
}

// jsonModel turns YAML maps (possibly keyed by non-strings) into map[string]any.
func jsonModel(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = jsonModel(e)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[fmt.Sprint(k)] = jsonModel(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = jsonModel(e)
		}
		return out
	}
	return v
}

// typeKeyPaths walks t with reflect and lists every key path, written as
// in docs/config.md: [] for list items, <name> for map entries.
func typeKeyPaths(t reflect.Type, at string, out *[]string) {
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		key := strings.Split(sf.Tag.Get("yaml"), ",")[0]
		if !sf.IsExported() || key == "" || key == "-" {
			continue
		}
		p := key
		if at != "" {
			p = at + "." + key
		}
		*out = append(*out, p)
		ft := sf.Type
		for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice || ft.Kind() == reflect.Map {
			switch ft.Kind() {
			case reflect.Slice:
				p += "[]"
			case reflect.Map:
				p += ".<name>"
			}
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct {
			typeKeyPaths(ft, p, out)
		}
	}
}

func allKeyPaths(t *testing.T) []string {
	var paths []string
	typeKeyPaths(reflect.TypeFor[Config](), "", &paths)
	if len(paths) < 100 {
		t.Fatalf("found only %d key paths; the walk is broken", len(paths))
	}
	return paths
}

// schemaAt follows a key path through the schema document, resolving $ref
// and the oneOf branches of keys written in two forms.
func schemaAt(root map[string]any, path string) (map[string]any, error) {
	node := root
	for _, part := range strings.Split(path, ".") {
		if part == "<name>" {
			next, ok := objectWith(root, node, "additionalProperties")["additionalProperties"].(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%s: no additionalProperties schema", part)
			}
			node = next
			continue
		}
		name, list := strings.CutSuffix(part, "[]")
		props, _ := objectWith(root, node, "properties")["properties"].(map[string]any)
		next, ok := props[name].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("no property %q", name)
		}
		node = next
		if list {
			if node, ok = objectWith(root, node, "items")["items"].(map[string]any); !ok {
				return nil, fmt.Errorf("%s: not an array", name)
			}
		}
	}
	return node, nil
}

// objectWith resolves node ($ref, oneOf) to a schema that has keyword.
func objectWith(root, node map[string]any, keyword string) map[string]any {
	for range 10 {
		if _, ok := node[keyword]; ok {
			return node
		}
		if ref, ok := node["$ref"].(string); ok {
			defs, _ := root["$defs"].(map[string]any)
			node, _ = defs[strings.TrimPrefix(ref, "#/$defs/")].(map[string]any)
			continue
		}
		branches, _ := node["oneOf"].([]any)
		for _, b := range branches {
			if bm, ok := b.(map[string]any); ok {
				if found := objectWith(root, bm, keyword); found != nil {
					return found
				}
			}
		}
		return nil
	}
	return nil
}

func TestEveryKeyIsDocumentedAndInSchema(t *testing.T) {
	docs, err := os.ReadFile("../" + DocsFile)
	if err != nil {
		t.Fatalf("%v (%s)", err, regenerate)
	}
	raw, err := os.ReadFile("schema.json")
	if err != nil {
		t.Fatalf("%v (%s)", err, regenerate)
	}
	var root map[string]any
	if err := json.Unmarshal(raw, &root); err != nil {
		t.Fatal(err)
	}
	for _, p := range allKeyPaths(t) {
		if !bytes.Contains(docs, []byte("`"+p+"`")) {
			t.Errorf("%s: not in %s (%s)", p, DocsFile, regenerate)
		}
		s, err := schemaAt(root, p)
		if err != nil {
			t.Errorf("%s: not in schema.json: %v (%s)", p, err, regenerate)
			continue
		}
		if d, _ := s["description"].(string); d == "" {
			t.Errorf("%s: no description in schema.json", p)
		}
	}
}

func TestGeneratedFilesAreUpToDate(t *testing.T) {
	files, err := Generate(os.DirFS(".."))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join("..", filepath.FromSlash(name)))
		if err != nil {
			t.Errorf("%s: %v; %s", name, err, regenerate)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is out of date with configs/types.go or %s; %s", name, IntroFile, regenerate)
		}
	}
}

func TestSchemaIsDeterministic(t *testing.T) {
	a, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	b, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) || Reference() != Reference() {
		t.Fatal("two generations differ")
	}
	compileSchema(t, a)
}

// exampleFiles lists every *.yaml under configs/ that should be valid.
func exampleFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "testdata" {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".yaml") && !strings.Contains(d.Name(), "invalid") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 2 {
		t.Fatalf("found %d example configs, want at least minimal.yaml and full.yaml", len(files))
	}
	return files
}

func TestExampleConfigsMatchSchema(t *testing.T) {
	sch := diskSchema(t)
	for _, file := range exampleFiles(t) {
		t.Run(file, func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if err := sch.Validate(yamlToJSON(t, src)); err != nil {
				t.Errorf("schema rejects %s:\n%v", file, err)
			}
			if _, err := Decode(src, file); err != nil {
				t.Errorf("decoder rejects %s:\n%v", file, err)
			}
		})
	}
}

// TestFullExampleValidates runs Validate on full.yaml; only its TLS
// certificate files, which the example names but does not ship, may fail.
func TestFullExampleValidates(t *testing.T) {
	cfg, err := Decode(mustRead(t, "examples/full.yaml"), "examples/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var errs Errors
	if err := cfg.Validate(); !errors.As(err, &errs) && err != nil {
		t.Fatal(err)
	}
	for _, e := range errs {
		if !strings.Contains(e.Path, "tls.") && e.Path != "acme.ca_roots" || !strings.Contains(e.Msg, "cannot load certificate") {
			t.Errorf("unexpected: %v", e)
		}
	}
}

func TestMinimalExampleParses(t *testing.T) {
	cfg, err := Parse(mustRead(t, "examples/minimal.yaml"), "examples/minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Listeners) != 1 || len(cfg.Routes) != 1 || len(cfg.Upstreams) != 1 {
		t.Fatalf("got %d listeners, %d routes, %d upstreams; want one each",
			len(cfg.Listeners), len(cfg.Routes), len(cfg.Upstreams))
	}
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestSchemaDefaultsAreValid(t *testing.T) {
	raw, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("mem:///schema.json", doc); err != nil {
		t.Fatal(err)
	}
	defs := doc.(map[string]any)["$defs"].(map[string]any)
	n := 0
	for defName, def := range defs {
		props, _ := def.(map[string]any)["properties"].(map[string]any)
		for key, p := range props {
			d, ok := p.(map[string]any)["default"]
			if !ok {
				continue
			}
			n++
			loc := "mem:///schema.json#/$defs/" + defName + "/properties/" + key
			sch, err := c.Compile(loc)
			if err != nil {
				t.Fatalf("%s: %v", loc, err)
			}
			if err := sch.Validate(d); err != nil {
				t.Errorf("%s.%s: default %v does not match its own schema: %v", defName, key, d, err)
			}
		}
	}
	if n < 40 {
		t.Fatalf("checked only %d defaults", n)
	}
}
