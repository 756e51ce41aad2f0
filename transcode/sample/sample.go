// Package sample is the built-in library backend: the bouncer.library.v1
// service of testdata/proto, served in memory over gRPC with server
// reflection, for trying Bouncer without a service of one's own and as the
// upstream of the transcoding tests. Its descriptors are the embedded
// library.protoset, regenerated with `go run ./transcode/sample/gen`.
package sample

import (
	_ "embed"
	"fmt"
	"net"
	"sync"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/bouncer-proxy/bouncer/transcode/grpcsvc"
)

// ServiceName is the full name of the library service.
const ServiceName = "bouncer.library.v1.Library"

//go:embed library.protoset
var protoset []byte

// load decodes the embedded descriptors once; the registry is immutable.
var load = sync.OnceValues(func() (*schema, error) {
	set := &descriptorpb.FileDescriptorSet{}
	if err := proto.Unmarshal(protoset, set); err != nil {
		return nil, fmt.Errorf("sample: decode library.protoset: %w", err)
	}
	files, err := protodesc.NewFiles(set)
	if err != nil {
		return nil, fmt.Errorf("sample: link library.protoset: %w", err)
	}
	return newSchema(files)
})

// Files answers the library's descriptors and all their dependencies. The
// registry is shared and must not be modified.
func Files() (*protoregistry.Files, error) {
	s, err := load()
	if err != nil {
		return nil, err
	}
	return s.files, nil
}

// Handlers answers an implementation of every library method, keyed
// "/bouncer.library.v1.Library/Method", over fresh in-memory state seeded
// with two shelves and three books. It panics only if the embedded
// descriptors are broken, which the package tests rule out.
func Handlers() map[string]grpcsvc.Handler {
	s, err := load()
	if err != nil {
		panic(err)
	}
	lib := newLibrary(s)
	out := map[string]grpcsvc.Handler{}
	for name, h := range lib.handlers() {
		out["/"+ServiceName+"/"+name] = h
	}
	return out
}

// Start serves a fresh library with reflection (v1 and v1alpha) on addr,
// "127.0.0.1:0" when empty, and answers the address listened on and a stop
// func that closes the server and every connection and waits for it.
func Start(addr string) (string, func(), error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	files, err := Files()
	if err != nil {
		return "", nil, err
	}
	srv, err := grpcsvc.New(files, Handlers(), grpcsvc.Options{})
	if err != nil {
		return "", nil, fmt.Errorf("sample: %w", err)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("sample: listen: %w", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Serve only fails when the listener does; stop then finds it closed.
		_ = srv.Serve(l)
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			srv.Stop()
			<-done
		})
	}
	return l.Addr().String(), stop, nil
}

// schema holds the descriptors the handlers build messages from.
type schema struct {
	files *protoregistry.Files
	types map[protoreflect.FullName]protoreflect.MessageDescriptor
}

// newSchema resolves every message type the handlers answer.
func newSchema(files *protoregistry.Files) (*schema, error) {
	s := &schema{files: files, types: map[protoreflect.FullName]protoreflect.MessageDescriptor{}}
	for _, name := range []protoreflect.FullName{
		typeShelf, typeBook, typeListShelves, typeListBooks, typeListBooksRequest, typeCreateBooks, typeWatchEvent,
		typeChat, typeFileInfo, typeHTTPBody, typeEmpty, typeCount,
	} {
		d, err := files.FindDescriptorByName(name)
		if err != nil {
			return nil, fmt.Errorf("sample: %s: %w", name, err)
		}
		md, ok := d.(protoreflect.MessageDescriptor)
		if !ok {
			return nil, fmt.Errorf("sample: %s is not a message", name)
		}
		s.types[name] = md
	}
	return s, nil
}

// Message types the handlers create.
const (
	typeShelf            protoreflect.FullName = "bouncer.library.v1.Shelf"
	typeBook             protoreflect.FullName = "bouncer.library.v1.Book"
	typeListShelves      protoreflect.FullName = "bouncer.library.v1.ListShelvesResponse"
	typeListBooks        protoreflect.FullName = "bouncer.library.v1.ListBooksResponse"
	typeListBooksRequest protoreflect.FullName = "bouncer.library.v1.ListBooksRequest"
	typeCreateBooks      protoreflect.FullName = "bouncer.library.v1.CreateBooksResponse"
	typeWatchEvent       protoreflect.FullName = "bouncer.library.v1.WatchEvent"
	typeChat             protoreflect.FullName = "bouncer.library.v1.ChatMessage"
	typeFileInfo         protoreflect.FullName = "bouncer.library.v1.FileInfo"
	typeHTTPBody         protoreflect.FullName = "google.api.HttpBody"
	typeEmpty            protoreflect.FullName = "google.protobuf.Empty"
	typeCount            protoreflect.FullName = "bouncer.library.v1.CountBooksResponse"
)
