package validate

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bufbuild/protocompile"
	"github.com/bufbuild/protocompile/linker"
	"google.golang.org/grpc"
	"google.golang.org/grpc/reflection"
	v1reflectiongrpc "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/bouncer-proxy/bouncer/transcode/descriptors"
)

const testFile = "bouncer/vtest/v1/books.proto"

// compile compiles testdata/<version>/books.proto and answers it with its
// transitive imports as descriptor protos, every file after its imports.
// buf/validate/validate.proto and the google/protobuf files it needs come
// from the descriptors linked into the test binary (internal/protoc only
// resolves google/api and google/rpc).
func compile(t testing.TB, version string) []*descriptorpb.FileDescriptorProto {
	t.Helper()
	c := protocompile.Compiler{
		Resolver: protocompile.CompositeResolver{
			&protocompile.SourceResolver{ImportPaths: []string{"testdata/" + version}},
			protocompile.ResolverFunc(func(path string) (protocompile.SearchResult, error) {
				fd, err := protoregistry.GlobalFiles.FindFileByPath(path)
				if err != nil {
					return protocompile.SearchResult{}, fmt.Errorf("%s: %w", path, err)
				}
				return protocompile.SearchResult{Desc: fd}, nil
			}),
		},
	}
	linked, err := c.Compile(context.Background(), testFile)
	if err != nil {
		t.Fatal(err)
	}
	var out []*descriptorpb.FileDescriptorProto
	seen := map[string]bool{}
	var visit func(fd protoreflect.FileDescriptor)
	visit = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		for i := range fd.Imports().Len() {
			visit(fd.Imports().Get(i).FileDescriptor)
		}
		if r, ok := fd.(linker.Result); ok {
			out = append(out, r.FileDescriptorProto())
		} else {
			out = append(out, protodesc.ToFileDescriptorProto(fd))
		}
	}
	for _, f := range linked {
		visit(f)
	}
	return out
}

// upstream is a real grpc-go server on 127.0.0.1 whose reflection service
// answers from a swappable registry, as an upstream that redeploys.
type upstream struct {
	addr  string
	files atomic.Pointer[protoregistry.Files]
}

func startUpstream(t testing.TB, fdps []*descriptorpb.FileDescriptorProto) *upstream {
	t.Helper()
	u := &upstream{}
	u.swap(t, fdps)
	srv := grpc.NewServer()
	v1reflectiongrpc.RegisterServerReflectionServer(srv, reflection.NewServerV1(reflection.ServerOptions{
		Services: u, DescriptorResolver: u,
	}))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u.addr = l.Addr().String()
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)
	return u
}

func (u *upstream) swap(t testing.TB, fdps []*descriptorpb.FileDescriptorProto) {
	t.Helper()
	files, err := protodesc.NewFiles(&descriptorpb.FileDescriptorSet{File: fdps})
	if err != nil {
		t.Fatal(err)
	}
	u.files.Store(files)
}

// GetServiceInfo lists every service of the current files; only the names
// matter to reflection.
func (u *upstream) GetServiceInfo() map[string]grpc.ServiceInfo {
	out := map[string]grpc.ServiceInfo{}
	u.files.Load().RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		for i := range fd.Services().Len() {
			out[string(fd.Services().Get(i).FullName())] = grpc.ServiceInfo{}
		}
		return true
	})
	return out
}

func (u *upstream) FindFileByPath(path string) (protoreflect.FileDescriptor, error) {
	return u.files.Load().FindFileByPath(path)
}

func (u *upstream) FindDescriptorByName(name protoreflect.FullName) (protoreflect.Descriptor, error) {
	return u.files.Load().FindDescriptorByName(name)
}

// fetch reads the upstream's schema through reflection, as Bouncer does.
func fetch(t testing.TB, u *upstream) *descriptors.Set {
	t.Helper()
	set, err := descriptors.Fetch(context.Background(), u.addr, descriptors.Options{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// newMessage makes an empty dynamic message of the named type in set.
func newMessage(t testing.TB, set *descriptors.Set, name string) *dynamicpb.Message {
	t.Helper()
	d, err := set.Files.FindDescriptorByName(protoreflect.FullName("bouncer.vtest.v1." + name))
	if err != nil {
		t.Fatal(err)
	}
	return dynamicpb.NewMessage(d.(protoreflect.MessageDescriptor))
}

// fromJSON fills a dynamic message of the named type from protojson text,
// resolving against the set's own types.
func fromJSON(t testing.TB, set *descriptors.Set, name, text string) *dynamicpb.Message {
	t.Helper()
	m := newMessage(t, set, name)
	if err := (protojson.UnmarshalOptions{Resolver: set.Types}).Unmarshal([]byte(text), m); err != nil {
		t.Fatalf("%s from %s: %v", name, text, err)
	}
	return m
}
