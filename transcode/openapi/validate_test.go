package openapi

import (
	"bytes"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// protoJSONCases are messages in protojson form, read and written again
// before validation.
var protoJSONCases = []struct {
	message, in string
	valid       bool
}{
	{"bouncer.library.v1.Everything", `{
		"doubleField": "NaN", "floatField": 1.5, "int32Field": -3, "int64Field": "-9007199254740993",
		"uint32Field": 7, "uint64Field": "18446744073709551615", "sint64Field": "5", "fixed64Field": "6",
		"boolField": true, "stringField": "s", "bytesField": "AAEC", "genre": "POETRY", "label": "shown",
		"maybe": 0, "nested": {"note": "n", "count": "2", "genres": ["FICTION"]},
		"int64List": ["1", "2"], "nestedList": [{"note": "a"}], "labels": {"k": "v"},
		"nestedById": {"3": {"count": "1"}}, "genreList": ["SCIENCE", "HISTORY"], "choiceNested": {"note": "c"},
		"timestamp": "2024-01-02T15:04:05.5Z", "duration": "1.5s", "fieldMask": "a.b,c",
		"struct": {"a": [1, null, {"b": true}]}, "value": "text", "listValue": [1, "x"],
		"any": {"@type": "type.googleapis.com/google.protobuf.Duration", "value": "2s"}, "empty": {},
		"nullValue": null, "doubleWrapper": "Infinity", "floatWrapper": 2.5, "int64Wrapper": "0",
		"uint64Wrapper": "1", "int32Wrapper": 0, "uint32Wrapper": 4, "boolWrapper": false,
		"stringWrapper": "", "bytesWrapper": "", "timestampList": ["1970-01-01T00:00:00Z"]}`, true},
	{"bouncer.library.v1.Book", `{"name": "shelves/1/books/2", "title": "T", "genre": "FICTION",
		"tags": ["a"], "pageCount": "300", "published": true, "publishTime": "2020-05-06T07:08:09Z",
		"labels": {"x": "y"}, "cover": "/w=="}`, true},
	{"bouncer.library.v1.WatchEvent", `{"sequence": "4", "kind": "ADDED", "book": {"title": "t"}}`, true},
}

// TestSchemasAcceptProtoJSON compiles the component schemas with a JSON
// Schema 2020-12 validator (which checks them against the 2020-12
// meta-schema) and validates what protojson writes for sample messages:
// the schemas describe the real JSON mapping.
func TestSchemasAcceptProtoJSON(t *testing.T) {
	ops := annotatedOps(t, library(t))
	compilers := map[bool]*jsonschema.Compiler{}
	for _, emit := range []bool{false, true} {
		compilers[emit] = compileDoc(t, ops, Options{EmitDefaults: emit})
	}
	types := dynamicpb.NewTypes(libraryFiles)
	for _, tc := range protoJSONCases {
		t.Run(tc.message, func(t *testing.T) {
			mt, err := types.FindMessageByName(protoreflect.FullName(tc.message))
			if err != nil {
				t.Fatal(err)
			}
			msg := mt.New().Interface()
			if err := (protojson.UnmarshalOptions{Resolver: types}).Unmarshal([]byte(tc.in), msg); err != nil {
				t.Fatalf("unmarshal: %v", err)
			}
			for _, emit := range []bool{false, true} {
				sch, err := compilers[emit].Compile(url + "#/components/schemas/" + tc.message)
				if err != nil {
					t.Fatalf("compile: %v", err)
				}
				out, err := protojson.MarshalOptions{Resolver: types, EmitUnpopulated: emit}.Marshal(msg)
				if err != nil {
					t.Fatal(err)
				}
				v, err := jsonschema.UnmarshalJSON(bytes.NewReader(out))
				if err != nil {
					t.Fatal(err)
				}
				if err := sch.Validate(v); err != nil {
					t.Errorf("protojson output (EmitUnpopulated %v) rejected: %v\n%s", emit, err, out)
				}
			}
		})
	}
}

// TestSchemasRefuse checks that the validation has teeth: JSON protojson
// never writes is refused.
func TestSchemasRefuse(t *testing.T) {
	c := compileDoc(t, annotatedOps(t, library(t)), Options{})
	book, err := c.Compile(url + "#/components/schemas/bouncer.library.v1.Book")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{`{"title": "t", "pageCount": 300}`, `{"title": "t", "genre": "NOVEL"}`,
		`{"title": "t", "labels": {"k": 1}}`, `{"author": "no title"}`} {
		v, err := jsonschema.UnmarshalJSON(strings.NewReader(bad))
		if err != nil {
			t.Fatal(err)
		}
		if book.Validate(v) == nil {
			t.Errorf("%s accepted as a Book", bad)
		}
	}
}

const url = "file:///openapi.json"

// compileDoc loads the document built from ops into a JSON Schema
// compiler, under url.
func compileDoc(t *testing.T, ops []Operation, o Options) *jsonschema.Compiler {
	t.Helper()
	b, err := Build(ops, o)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(url, doc); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSchemasMetaValid checks every component schema, and every parameter
// and media type schema, against the JSON Schema 2020-12 meta-schema
// (built into the validator, so available offline).
func TestSchemasMetaValid(t *testing.T) {
	meta, err := jsonschema.NewCompiler().Compile("https://json-schema.org/draft/2020-12/schema")
	if err != nil {
		t.Fatal(err)
	}
	if meta.Validate(map[string]any{"type": "text"}) == nil {
		t.Fatal("the meta-schema accepts a bad type")
	}
	for _, emit := range []bool{false, true} {
		b, err := Build(annotatedOps(t, library(t)), Options{EmitDefaults: emit})
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		var walk func(v any, key string)
		walk = func(v any, key string) {
			switch c := v.(type) {
			case map[string]any:
				if key == "schema" {
					n++
					if err := meta.Validate(c); err != nil {
						t.Errorf("schema %v: %v", c, err)
					}
					return
				}
				for k, x := range c {
					walk(x, k)
				}
			case []any:
				for _, x := range c {
					walk(x, "")
				}
			}
		}
		walk(doc.(map[string]any)["paths"], "")
		for name, s := range doc.(map[string]any)["components"].(map[string]any)["schemas"].(map[string]any) {
			n++
			if err := meta.Validate(s); err != nil {
				t.Errorf("component %s: %v", name, err)
			}
		}
		if n < 100 {
			t.Errorf("only %d schemas checked", n)
		}
	}
}
