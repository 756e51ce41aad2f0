package descriptors

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/api/annotations"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// closure returns fd and its imports as protos, each once.
func closure(fds ...protoreflect.FileDescriptor) []*descriptorpb.FileDescriptorProto {
	seen := map[string]bool{}
	var out []*descriptorpb.FileDescriptorProto
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		out = append(out, protodesc.ToFileDescriptorProto(fd))
		for i := 0; i < fd.Imports().Len(); i++ {
			add(fd.Imports().Get(i).FileDescriptor)
		}
	}
	for _, fd := range fds {
		add(fd)
	}
	return out
}

// writeProtoset writes the files as a binary FileDescriptorSet in a
// temporary directory and returns its path.
func writeProtoset(t *testing.T, dir string, fdps ...*descriptorpb.FileDescriptorProto) string {
	t.Helper()
	raw, err := proto.Marshal(&descriptorpb.FileDescriptorSet{File: fdps})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "schema.protoset")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadProtosetMatchesFetch(t *testing.T) {
	path := writeProtoset(t, t.TempDir(), closure(testgrpc.File_grpc_testing_test_proto)...)
	loaded, err := LoadProtoset(path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(serviceNames(loaded), "grpc.testing.TestService") {
		t.Errorf("services = %v", serviceNames(loaded))
	}
	u := startUpstream(t, upstreamConfig{})
	fetched, err := fetch(t, u.addr, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if loaded.Digest != fetched.Digest {
		t.Errorf("protoset digest %s, reflection digest %s: same files should agree", loaded.Digest, fetched.Digest)
	}
}

func TestLoadProtosetAnnotations(t *testing.T) {
	things := thingsFile("bouncer/test/v1/things.proto", []string{"GetThing"}, "acme/options.proto")
	fdps := append(closure(annotations.File_google_api_annotations_proto), things)
	set, err := LoadProtoset(writeProtoset(t, t.TempDir(), fdps...))
	if err != nil {
		t.Fatal(err)
	}
	md := set.Services[0].Methods().ByName("GetThing")
	if rule, ok := proto.GetExtension(md.Options(), annotations.E_Http).(*annotations.HttpRule); !ok || rule.GetGet() != "/v1/GetThing/{id}" {
		t.Errorf("google.api.http = %v, want a typed GET /v1/GetThing/{id}", rule)
	}
}

func TestLoadProtosetErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	needsType := thingsFile("bouncer/test/v1/things.proto", []string{"GetThing"}, "acme/widget.proto")
	needsType.Service[0].Method[0].OutputType = proto.String(".acme.Widget")
	raw, err := proto.Marshal(&descriptorpb.FileDescriptorSet{File: append(closure(annotations.File_google_api_annotations_proto), needsType)})
	if err != nil {
		t.Fatal(err)
	}
	dup := closure(annotations.File_google_api_http_proto)
	rawDup, err := proto.Marshal(&descriptorpb.FileDescriptorSet{File: append(dup, dup[0])})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		path    string
		wantErr string
		is      error
	}{
		{"missing file", filepath.Join(dir, "nope.protoset"), "no such file", fs.ErrNotExist},
		{"bad bytes", write("bad.protoset", []byte("this is not a protobuf\xff\xff")), "not a binary FileDescriptorSet", nil},
		{"empty", write("empty.protoset", nil), "holds no files", nil},
		{"unresolvable import", write("needs.protoset", raw), "missing imports: acme/widget.proto", nil},
		{"file twice", write("dup.protoset", rawDup), "twice", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadProtoset(tt.path)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
			}
			if !strings.HasPrefix(err.Error(), "descriptors: ") {
				t.Errorf("err %q lacks the package prefix", err)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("err %v is not %v", err, tt.is)
			}
		})
	}
}
