package openapi

import (
	"net/http"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/types/descriptorpb"
)

const schemas = "#/components/schemas/"

// TestBookSchema checks the Book and Shelf schemas field by field,
// field_behavior included.
func TestBookSchema(t *testing.T) {
	doc := buildDoc(t, annotatedOps(t, library(t)), Options{})
	jsonEq(t, "Book", at(t, doc, "components", "schemas", "bouncer.library.v1.Book"), `{
		"type":"object","description":"A book on a shelf.",
		"properties":{
			"name":{"type":"string","description":"Resource name, \"shelves/{shelf}/books/{book}\"."},
			"title":{"type":"string"},
			"author":{"type":"string"},
			"genre":{"$ref":"`+schemas+`bouncer.library.v1.Genre"},
			"tags":{"type":"array","items":{"type":"string"}},
			"pageCount":{"type":"string","format":"int64"},
			"published":{"type":"boolean","readOnly":true},
			"publishTime":{"$ref":"`+schemas+`google.protobuf.Timestamp"},
			"labels":{"type":"object","additionalProperties":{"type":"string"}},
			"cover":{"type":"string","format":"byte","contentEncoding":"base64"}},
		"required":["title"]}`)
	jsonEq(t, "Shelf", at(t, doc, "components", "schemas", "bouncer.library.v1.Shelf"), `{
		"type":"object","description":"A shelf holds books.",
		"properties":{
			"name":{"type":"string","description":"Resource name, \"shelves/{shelf}\"."},
			"theme":{"type":"string"},
			"bookCount":{"type":"string","format":"int64","description":"Number of books on the shelf.","readOnly":true}},
		"required":["theme"]}`)
	jsonEq(t, "Genre", at(t, doc, "components", "schemas", "bouncer.library.v1.Genre"), `{"type":"string",
		"description":"Genre classifies a book; also used as an enum query parameter.",
		"enum":["GENRE_UNSPECIFIED","FICTION","POETRY","SCIENCE","HISTORY"]}`)
	jsonEq(t, "WatchEvent.Kind", at(t, doc, "components", "schemas", "bouncer.library.v1.WatchEvent.Kind", "enum"),
		`["KIND_UNSPECIFIED","ADDED","REMOVED"]`)
	// With EmitDefaults, unset message fields are written as null.
	withNulls := buildDoc(t, annotatedOps(t, library(t)), Options{EmitDefaults: true})
	jsonEq(t, "publishTime", at(t, withNulls, "components", "schemas", "bouncer.library.v1.Book", "properties", "publishTime"),
		`{"anyOf":[{"$ref":"`+schemas+`google.protobuf.Timestamp"},{"type":"null"}]}`)
	jsonEq(t, "title", at(t, withNulls, "components", "schemas", "bouncer.library.v1.Book", "properties", "title"), `{"type":"string"}`)
	// Properties keep field order in the bytes, not alphabetical order.
	b, err := Build(annotatedOps(t, library(t)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if i, j := indexAfter(s, `"bouncer.library.v1.Book": {`, `"title"`), indexAfter(s, `"bouncer.library.v1.Book": {`, `"author"`); i < 0 || j < 0 || i > j {
		t.Errorf("Book properties out of field order (title at %d, author at %d)", i, j)
	}
}

func indexAfter(s, anchor, what string) int {
	a := strings.Index(s, anchor)
	if a < 0 {
		return -1
	}
	i := strings.Index(s[a:], what)
	if i < 0 {
		return -1
	}
	return a + i
}

// TestEverythingSchema checks the proto3 JSON mapping of every kind and
// well-known type.
func TestEverythingSchema(t *testing.T) {
	doc := buildDoc(t, annotatedOps(t, library(t)), Options{})
	props := at(t, doc, "components", "schemas", "bouncer.library.v1.Everything", "properties")
	num := func(f string) string {
		return `{"anyOf":[{"type":"number","format":"` + f + `"},{"type":"string","enum":["NaN","Infinity","-Infinity"]}]}`
	}
	ref := func(n string) string { return `{"$ref":"` + schemas + n + `"}` }
	oneof := "Member of the oneof choice: at most one of its fields is set."
	want := map[string]string{
		"floatField":    num("float"),
		"int32Field":    `{"type":"integer","format":"int32"}`,
		"int64Field":    `{"type":"string","format":"int64"}`,
		"uint32Field":   `{"type":"integer","format":"uint32"}`,
		"uint64Field":   `{"type":"string","format":"uint64"}`,
		"sint32Field":   `{"type":"integer","format":"int32"}`,
		"sint64Field":   `{"type":"string","format":"int64"}`,
		"fixed32Field":  `{"type":"integer","format":"uint32"}`,
		"fixed64Field":  `{"type":"string","format":"uint64"}`,
		"sfixed32Field": `{"type":"integer","format":"int32"}`,
		"sfixed64Field": `{"type":"string","format":"int64"}`,
		"boolField":     `{"type":"boolean"}`,
		"stringField":   `{"type":"string"}`,
		"bytesField":    `{"type":"string","format":"byte","contentEncoding":"base64"}`,
		"genre":         ref("bouncer.library.v1.Genre"),
		"label":         `{"type":"string","description":"A field whose JSON name is not the lowerCamelCase of its proto name."}`,
		"maybe":         `{"type":"integer","format":"int32","description":"proto3 optional: presence is tracked."}`,
		"int64List":     `{"type":"array","items":{"type":"string","format":"int64"}}`,
		"nestedList":    `{"type":"array","items":` + ref("bouncer.library.v1.Everything.Nested") + `}`,
		"labels":        `{"type":"object","additionalProperties":{"type":"string"}}`,
		"nestedById": `{"type":"object","additionalProperties":` + ref("bouncer.library.v1.Everything.Nested") +
			`,"propertyNames":{"pattern":"^-?[0-9]+$"}}`,
		"genreList":     `{"type":"array","items":` + ref("bouncer.library.v1.Genre") + `}`,
		"choiceText":    `{"type":"string","description":"` + oneof + `"}`,
		"choiceNumber":  `{"type":"string","format":"int64","description":"` + oneof + `"}`,
		"choiceNested":  `{"$ref":"` + schemas + `bouncer.library.v1.Everything.Nested","description":"` + oneof + `"}`,
		"duration":      ref("google.protobuf.Duration"),
		"struct":        ref("google.protobuf.Struct"),
		"any":           ref("google.protobuf.Any"),
		"nullValue":     `{"type":"null"}`,
		"int64Wrapper":  ref("google.protobuf.Int64Value"),
		"timestampList": `{"type":"array","items":` + ref("google.protobuf.Timestamp") + `}`,
	}
	for name, w := range want {
		jsonEq(t, name, at(t, props, name), w)
	}
	if _, ok := props.(map[string]any)["displayName"]; ok {
		t.Error("displayName present: json_name not honoured")
	}
	jsonEq(t, "x-oneofs", at(t, doc, "components", "schemas", "bouncer.library.v1.Everything", "x-oneofs"),
		`[{"name":"choice","fields":["choiceText","choiceNumber","choiceNested"]}]`)
}

// TestWellKnownSchemas checks the JSON forms of the well-known types and
// google.rpc.Status, descriptions aside.
func TestWellKnownSchemas(t *testing.T) {
	doc := buildDoc(t, annotatedOps(t, library(t)), Options{})
	wkt := at(t, doc, "components", "schemas").(map[string]any)
	for name, w := range map[string]string{
		"google.protobuf.Timestamp":   `{"type":"string","format":"date-time"}`,
		"google.protobuf.Duration":    `{"type":"string","pattern":"^-?[0-9]+(\\.[0-9]{1,9})?s$"}`,
		"google.protobuf.FieldMask":   `{"type":"string"}`,
		"google.protobuf.Struct":      `{"type":"object","additionalProperties":true}`,
		"google.protobuf.Value":       `{}`,
		"google.protobuf.ListValue":   `{"type":"array","items":{}}`,
		"google.protobuf.Empty":       `{"type":"object"}`,
		"google.protobuf.Any":         `{"type":"object","properties":{"@type":{"type":"string"}},"required":["@type"],"additionalProperties":true}`,
		"google.protobuf.Int64Value":  `{"type":["string","null"],"format":"int64"}`,
		"google.protobuf.UInt64Value": `{"type":["string","null"],"format":"uint64"}`,
		"google.protobuf.Int32Value":  `{"type":["integer","null"],"format":"int32"}`,
		"google.protobuf.UInt32Value": `{"type":["integer","null"],"format":"uint32"}`,
		"google.protobuf.BoolValue":   `{"type":["boolean","null"]}`,
		"google.protobuf.StringValue": `{"type":["string","null"]}`,
		"google.protobuf.BytesValue":  `{"type":["string","null"],"format":"byte","contentEncoding":"base64"}`,
		"google.protobuf.DoubleValue": `{"anyOf":[{"type":"number","format":"double"},{"type":"string","enum":["NaN","Infinity","-Infinity"]},{"type":"null"}]}`,
		"google.protobuf.FloatValue":  `{"anyOf":[{"type":"number","format":"float"},{"type":"string","enum":["NaN","Infinity","-Infinity"]},{"type":"null"}]}`,
		"google.rpc.Status": `{"type":"object","properties":{"code":{"type":"integer","format":"int32"},"message":{"type":"string"},` +
			`"details":{"type":"array","items":{"$ref":"` + schemas + `google.protobuf.Any"}}}}`,
	} {
		jsonEq(t, name, withoutDescriptions(at(t, wkt, name)), w)
	}
}

// withoutDescriptions drops "description" keys everywhere, so shapes
// compare without prose.
func withoutDescriptions(v any) any {
	switch c := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, x := range c {
			if k != "description" {
				out[k] = withoutDescriptions(x)
			}
		}
		return out
	case []any:
		out := make([]any, len(c))
		for i, x := range c {
			out[i] = withoutDescriptions(x)
		}
		return out
	}
	return v
}

// TestRecursion builds a message that refers to itself, directly and
// through a list: its schema refers to itself and query parameters stop at
// the depth limit.
func TestRecursion(t *testing.T) {
	fdp := &descriptorpb.FileDescriptorProto{
		Name:    proto.String("node.proto"),
		Package: proto.String("test.v1"),
		Syntax:  proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{
			Name: proto.String("Node"),
			Field: []*descriptorpb.FieldDescriptorProto{
				{Name: proto.String("name"), JsonName: proto.String("name"), Number: proto.Int32(1),
					Type: descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum(), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()},
				{Name: proto.String("child"), JsonName: proto.String("child"), Number: proto.Int32(2), TypeName: proto.String(".test.v1.Node"),
					Type: descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum(), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()},
				{Name: proto.String("children"), JsonName: proto.String("children"), Number: proto.Int32(3), TypeName: proto.String(".test.v1.Node"),
					Type: descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum(), Label: descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum()},
			},
		}},
		Service: []*descriptorpb.ServiceDescriptorProto{{
			Name:   proto.String("Tree"),
			Method: []*descriptorpb.MethodDescriptorProto{{Name: proto.String("Get"), InputType: proto.String(".test.v1.Node"), OutputType: proto.String(".test.v1.Node")}},
		}},
	}
	fd, err := protodesc.NewFile(fdp, nil)
	if err != nil {
		t.Fatal(err)
	}
	md := fd.Services().Get(0).Methods().Get(0)
	doc := buildDoc(t, []Operation{
		newOp(t, md, http.MethodGet, "/v1/nodes/{name}", "", ""),
		newOp(t, md, http.MethodPost, "/v1/nodes", "*", ""),
	}, Options{})
	jsonEq(t, "Node", at(t, doc, "components", "schemas", "test.v1.Node"), `{"type":"object","properties":{
		"name":{"type":"string"},
		"child":{"$ref":"`+schemas+`test.v1.Node"},
		"children":{"type":"array","items":{"$ref":"`+schemas+`test.v1.Node"}}}}`)
	var names []string
	for _, p := range at(t, doc, "paths", "/v1/nodes/{name}", "get", "parameters").([]any) {
		names = append(names, at(t, p, "name").(string))
	}
	jsonEq(t, "parameters", names, `["name","child.name","child.child.name"]`)
	checkStructure(t, doc)
}
