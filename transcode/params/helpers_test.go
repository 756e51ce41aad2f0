package params

import (
	"context"
	"sync"
	"testing"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// descriptorSets are the test files twice: as compiled (the well-known
// types are then the generated ones) and rebuilt from FileDescriptorProtos
// with protodesc, as descriptors fetched by server reflection are (every
// type, the well-known ones included, is a fresh dynamic descriptor).
type descriptorSets struct {
	compiled, reflected *protoregistry.Files
}

var loadOnce = sync.OnceValues(func() (descriptorSets, error) {
	c := protocompile.Compiler{Resolver: protocompile.WithStandardImports(
		&protocompile.SourceResolver{ImportPaths: []string{"testdata"}})}
	files, err := c.Compile(context.Background(), "params.proto", "closed.proto")
	if err != nil {
		return descriptorSets{}, err
	}
	var sets descriptorSets
	sets.compiled = new(protoregistry.Files)
	fdset := &descriptorpb.FileDescriptorSet{}
	seen := map[string]bool{}
	var add func(fd protoreflect.FileDescriptor) error
	add = func(fd protoreflect.FileDescriptor) error {
		if seen[fd.Path()] {
			return nil
		}
		seen[fd.Path()] = true
		imports := fd.Imports()
		for i := 0; i < imports.Len(); i++ {
			if err := add(imports.Get(i).FileDescriptor); err != nil {
				return err
			}
		}
		fdset.File = append(fdset.File, protodesc.ToFileDescriptorProto(fd))
		return sets.compiled.RegisterFile(fd)
	}
	for _, f := range files {
		if err := add(f); err != nil {
			return descriptorSets{}, err
		}
	}
	sets.reflected, err = protodesc.NewFiles(fdset)
	return sets, err
})

// eachSet runs fn for both descriptor sets.
func eachSet(t *testing.T, fn func(t *testing.T, files *protoregistry.Files)) {
	t.Helper()
	sets, err := loadOnce()
	if err != nil {
		t.Fatalf("compile test protos: %v", err)
	}
	t.Run("compiled", func(t *testing.T) { fn(t, sets.compiled) })
	t.Run("reflected", func(t *testing.T) { fn(t, sets.reflected) })
}

// message finds a message type by full name.
func message(tb testing.TB, files *protoregistry.Files, name string) protoreflect.MessageDescriptor {
	tb.Helper()
	d, err := files.FindDescriptorByName(protoreflect.FullName(name))
	if err != nil {
		tb.Fatalf("find %s: %v", name, err)
	}
	md, ok := d.(protoreflect.MessageDescriptor)
	if !ok {
		tb.Fatalf("%s is not a message", name)
	}
	return md
}

// allType is params.test.All of the reflected set, for fuzzing and benchmarks.
func allType(tb testing.TB) protoreflect.MessageDescriptor {
	tb.Helper()
	sets, err := loadOnce()
	if err != nil {
		tb.Fatalf("compile test protos: %v", err)
	}
	return message(tb, sets.reflected, "params.test.All")
}

// checkJSON compares m with the message wantJSON describes (protojson
// output is not byte-stable, so both are compared as messages).
func checkJSON(t *testing.T, m protoreflect.Message, wantJSON string) {
	t.Helper()
	want := dynamicpb.NewMessage(m.Descriptor())
	if err := protojson.Unmarshal([]byte(wantJSON), want); err != nil {
		t.Fatalf("bad want JSON %s: %v", wantJSON, err)
	}
	if !proto.Equal(m.Interface(), want) {
		got, _ := protojson.Marshal(m.Interface())
		t.Errorf("got %s, want %s", got, wantJSON)
	}
	checkRoundTrip(t, m)
}
