package protoc

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

const protoDir = "../../../testdata/proto"

func TestCompileLibrary(t *testing.T) {
	files, fdps, err := Compile(context.Background(), protoDir, "bouncer/library/v1/library.proto")
	if err != nil {
		t.Fatal(err)
	}
	d, err := files.FindDescriptorByName("bouncer.library.v1.Library.GetBook")
	if err != nil {
		t.Fatal(err)
	}
	md := d.(protoreflect.MethodDescriptor)
	rule, ok := proto.GetExtension(md.Options(), annotations.E_Http).(*annotations.HttpRule)
	if !ok || rule.GetGet() != "/v1/{name=shelves/*/books/*}" {
		t.Fatalf("google.api.http of GetBook = %v", rule)
	}
	if n := len(rule.GetAdditionalBindings()); n != 1 {
		t.Fatalf("GetBook additional bindings = %d, want 1", n)
	}
	if c := md.ParentFile().SourceLocations().ByDescriptor(md).LeadingComments; !strings.Contains(c, "Returns one book") {
		t.Fatalf("leading comment of GetBook = %q", c)
	}

	// Every file comes after its imports, and every import is present.
	pos := map[string]int{}
	for i, f := range fdps {
		pos[f.GetName()] = i
	}
	for i, f := range fdps {
		for _, dep := range f.GetDependency() {
			j, ok := pos[dep]
			if !ok || j >= i {
				t.Errorf("%s: import %s at %d (present %v), want before %d", f.GetName(), dep, j, ok, i)
			}
		}
	}
	for _, want := range []string{
		"bouncer/library/v1/library.proto", "bouncer/library/v1/everything.proto",
		"google/api/annotations.proto", "google/api/http.proto", "google/api/httpbody.proto",
		"google/api/field_behavior.proto", "google/protobuf/descriptor.proto",
	} {
		if _, ok := pos[want]; !ok {
			t.Errorf("%s missing from the descriptor protos", want)
		}
		if _, err := files.FindFileByPath(want); err != nil {
			t.Errorf("%s missing from the registry: %v", want, err)
		}
	}
}

func TestCompileGoogleRPC(t *testing.T) {
	dir := t.TempDir()
	src := `syntax = "proto3";
package t;
import "google/rpc/status.proto";
import "google/rpc/error_details.proto";
import "google/rpc/code.proto";
message M { google.rpc.Status s = 1; google.rpc.BadRequest b = 2; google.rpc.Code c = 3; }
`
	if err := os.WriteFile(filepath.Join(dir, "m.proto"), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	files, _, err := Compile(context.Background(), dir, "m.proto")
	if err != nil {
		t.Fatal(err)
	}
	d, err := files.FindDescriptorByName("t.M")
	if err != nil {
		t.Fatal(err)
	}
	if got := d.(protoreflect.MessageDescriptor).Fields().ByName("b").Message().FullName(); got != "google.rpc.BadRequest" {
		t.Fatalf("field b type = %s", got)
	}
}

func TestCompileErrors(t *testing.T) {
	dir := t.TempDir()
	bad := "syntax = \"proto3\";\npackage t;\nmessage M { strin x = 1; }\n"
	if err := os.WriteFile(filepath.Join(dir, "bad.proto"), []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		files []string
		want  string
	}{
		{"no files", nil, "no files"},
		{"missing file", []string{"absent.proto"}, "absent.proto"},
		{"syntax error", []string{"bad.proto"}, "bad.proto:3:"},
		{"unknown google import", []string{"google/api/absent.proto"}, "google/api/absent.proto"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Compile(context.Background(), dir, tc.files...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}
