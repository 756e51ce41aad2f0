package openapi

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/bouncer-proxy/bouncer/transcode/httprule"
	"github.com/bouncer-proxy/bouncer/transcode/internal/protoc"
)

const protoDir = "../../testdata/proto"

var (
	libraryOnce  sync.Once
	libraryFiles *protoregistry.Files
	libraryErr   error
)

// library compiles the sample service once for all tests.
func library(t *testing.T) protoreflect.ServiceDescriptor {
	t.Helper()
	libraryOnce.Do(func() {
		libraryFiles, _, libraryErr = protoc.Compile(context.Background(), protoDir, "bouncer/library/v1/library.proto")
	})
	if libraryErr != nil {
		t.Fatal(libraryErr)
	}
	d, err := libraryFiles.FindDescriptorByName("bouncer.library.v1.Library")
	if err != nil {
		t.Fatal(err)
	}
	return d.(protoreflect.ServiceDescriptor)
}

// annotatedOps turns the google.api.http annotations of sd into
// Operations, additional bindings after the main one; a method without
// annotation gets the automatic POST /package.Service/Method.
func annotatedOps(t *testing.T, sd protoreflect.ServiceDescriptor) []Operation {
	t.Helper()
	var ops []Operation
	methods := sd.Methods()
	for i := range methods.Len() {
		md := methods.Get(i)
		rule, _ := proto.GetExtension(md.Options(), annotations.E_Http).(*annotations.HttpRule)
		if rule == nil {
			ops = append(ops, newOp(t, md, http.MethodPost, "/"+string(sd.FullName())+"/"+string(md.Name()), "*", ""))
			continue
		}
		for _, r := range append([]*annotations.HttpRule{rule}, rule.GetAdditionalBindings()...) {
			method, path := rulePattern(r)
			ops = append(ops, newOp(t, md, method, path, r.GetBody(), r.GetResponseBody()))
		}
	}
	return ops
}

// rulePattern is the HTTP method and template of one rule.
func rulePattern(r *annotations.HttpRule) (string, string) {
	switch p := r.GetPattern().(type) {
	case *annotations.HttpRule_Get:
		return http.MethodGet, p.Get
	case *annotations.HttpRule_Put:
		return http.MethodPut, p.Put
	case *annotations.HttpRule_Post:
		return http.MethodPost, p.Post
	case *annotations.HttpRule_Delete:
		return http.MethodDelete, p.Delete
	case *annotations.HttpRule_Patch:
		return http.MethodPatch, p.Patch
	case *annotations.HttpRule_Custom:
		return p.Custom.GetKind(), p.Custom.GetPath()
	}
	return "", ""
}

func newOp(t *testing.T, md protoreflect.MethodDescriptor, method, path, body, respBody string) Operation {
	t.Helper()
	tmpl, err := httprule.Parse(path)
	if err != nil {
		t.Fatal(err)
	}
	return Operation{HTTPMethod: method, Template: tmpl, Method: md, Body: body, ResponseBody: respBody}
}

// buildDoc builds ops and decodes the document.
func buildDoc(t *testing.T, ops []Operation, o Options) map[string]any {
	t.Helper()
	b, err := Build(ops, o)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("the document is not JSON: %v", err)
	}
	return doc
}

// at walks doc by object keys and array indexes (as "0", "1", ...); it
// fails the test when a step is missing.
func at(t *testing.T, v any, keys ...string) any {
	t.Helper()
	for i, k := range keys {
		switch c := v.(type) {
		case map[string]any:
			next, ok := c[k]
			if !ok {
				t.Fatalf("no %q at %v", k, keys[:i])
			}
			v = next
		case []any:
			var n int
			if err := json.Unmarshal([]byte(k), &n); err != nil || n < 0 || n >= len(c) {
				t.Fatalf("no index %q at %v", k, keys[:i])
			}
			v = c[n]
		default:
			t.Fatalf("%v is not an object or array (%T)", keys[:i], v)
		}
	}
	return v
}

// canon re-encodes a JSON value, so values compare as text.
func canon(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// jsonEq fails unless got encodes like the JSON text want.
func jsonEq(t *testing.T, what string, got any, want string) {
	t.Helper()
	var w any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("%s: bad want %q: %v", what, want, err)
	}
	if g, ws := canon(t, got), canon(t, w); g != ws {
		t.Errorf("%s:\n got %s\nwant %s", what, g, ws)
	}
}
