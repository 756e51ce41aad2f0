// Package grpcsvc serves gRPC methods described only at run time: a grpc-go
// server whose methods come from a descriptor registry and a map of handler
// funcs working on dynamic messages, with server reflection (v1 and v1alpha)
// answering from the same registry. Tests and the sample backend use it to
// stand up real gRPC services without generated code; Swap replaces the
// whole service set of a running server, as a redeployed upstream would.
package grpcsvc

import (
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/reflection"
	v1reflectiongrpc "google.golang.org/grpc/reflection/grpc_reflection_v1"
	v1alphareflectiongrpc "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// Handler serves one method. It runs on the gRPC stream's goroutine, reads
// requests with call.Recv and answers with call.Send. A unary or
// client-streaming handler must Send exactly one response before returning
// nil. The returned error ends the call: a status error (status.Error,
// status.ErrorProto) is sent as is, details included; any other error
// becomes codes.Unknown, and a panic codes.Internal.
type Handler func(call *Call) error

// Options tunes a Server. The zero value serves both reflection protocols.
type Options struct {
	// DisableReflectionV1 leaves out grpc.reflection.v1.ServerReflection.
	DisableReflectionV1 bool
	// DisableReflectionV1Alpha leaves out grpc.reflection.v1alpha.ServerReflection.
	DisableReflectionV1Alpha bool
	// ServerOptions are passed to grpc.NewServer (credentials, interceptors,
	// limits). grpc.UnknownServiceHandler is set by the Server and must not
	// be given here.
	ServerOptions []grpc.ServerOption
}

// Server is a gRPC server dispatching every method by full name
// ("/pkg.Service/Method") to the handlers of its current generation.
type Server struct {
	grpc       *grpc.Server
	cur        atomic.Pointer[generation]
	reflection []string // names of the reflection services registered
}

// generation is one immutable set of descriptors and handlers.
type generation struct {
	files    *protoregistry.Files
	exts     *extensionIndex
	methods  map[string]route
	services []string // sorted full names of services with a handler
}

// route is one served method.
type route struct {
	desc    protoreflect.MethodDescriptor
	handler Handler
}

// New builds a Server for files and handlers, keyed by "/pkg.Service/Method".
// It fails if a key is malformed or names no method in files. Methods of
// files without a handler answer codes.Unimplemented.
func New(files *protoregistry.Files, handlers map[string]Handler, o Options) (*Server, error) {
	gen, err := newGeneration(files, handlers)
	if err != nil {
		return nil, err
	}
	s := &Server{}
	s.cur.Store(gen)
	opts := append([]grpc.ServerOption{grpc.UnknownServiceHandler(s.dispatch)}, o.ServerOptions...)
	s.grpc = grpc.NewServer(opts...)
	view := reflectionView{s: s}
	ro := reflection.ServerOptions{Services: view, DescriptorResolver: view, ExtensionResolver: view}
	if !o.DisableReflectionV1 {
		v1reflectiongrpc.RegisterServerReflectionServer(s.grpc, reflection.NewServerV1(ro))
		s.reflection = append(s.reflection, v1reflectiongrpc.ServerReflection_ServiceDesc.ServiceName)
	}
	if !o.DisableReflectionV1Alpha {
		v1alphareflectiongrpc.RegisterServerReflectionServer(s.grpc, reflection.NewServer(ro))
		s.reflection = append(s.reflection, v1alphareflectiongrpc.ServerReflection_ServiceDesc.ServiceName)
	}
	return s, nil
}

// Serve accepts connections on l until Stop; it blocks, and closes l.
func (s *Server) Serve(l net.Listener) error {
	if err := s.grpc.Serve(l); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return fmt.Errorf("grpcsvc: serve: %w", err)
	}
	return nil
}

// Swap atomically replaces the descriptors and handlers: calls and
// reflection requests that start afterwards see only the new set; calls in
// flight finish on the old one. On error the current set keeps serving.
func (s *Server) Swap(files *protoregistry.Files, handlers map[string]Handler) error {
	gen, err := newGeneration(files, handlers)
	if err != nil {
		return err
	}
	s.cur.Store(gen)
	return nil
}

// Stop closes the listeners and every connection at once, cancelling calls.
func (s *Server) Stop() { s.grpc.Stop() }

// GracefulStop stops accepting and waits for calls in flight to finish.
func (s *Server) GracefulStop() { s.grpc.GracefulStop() }

// dispatch is the grpc.UnknownServiceHandler: every call lands here.
func (s *Server) dispatch(_ any, stream grpc.ServerStream) error {
	name, ok := grpc.MethodFromServerStream(stream)
	if !ok {
		return status.Error(codes.Internal, "grpcsvc: no method name on the stream")
	}
	r, ok := s.cur.Load().methods[name]
	if !ok {
		return status.Errorf(codes.Unimplemented, "grpcsvc: unknown method %s", name)
	}
	call := &Call{Ctx: stream.Context(), Method: r.desc, stream: stream}
	if err := run(r.handler, call); err != nil {
		return err
	}
	if !r.desc.IsStreamingServer() && call.sent == 0 {
		return status.Errorf(codes.Internal, "grpcsvc: %s returned no response", name)
	}
	return nil
}

// run calls h, turning a panic into codes.Internal: grpc-go does not
// recover handler panics, and one bad handler must not end the process.
func run(h Handler, call *Call) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = status.Errorf(codes.Internal, "grpcsvc: %s: handler panic: %v", call.Method.FullName(), p)
		}
	}()
	return h(call)
}

// newGeneration resolves every handler key to its method descriptor.
func newGeneration(files *protoregistry.Files, handlers map[string]Handler) (*generation, error) {
	if files == nil {
		return nil, errors.New("grpcsvc: nil descriptor registry")
	}
	gen := &generation{files: files, exts: indexExtensions(files), methods: make(map[string]route, len(handlers))}
	services := map[string]bool{}
	for key, h := range handlers {
		md, err := findMethod(files, key)
		if err != nil {
			return nil, err
		}
		if h == nil {
			return nil, fmt.Errorf("grpcsvc: nil handler for %s", key)
		}
		gen.methods[key] = route{desc: md, handler: h}
		services[string(md.Parent().FullName())] = true
	}
	for name := range services {
		gen.services = append(gen.services, name)
	}
	sort.Strings(gen.services)
	return gen, nil
}

// findMethod resolves "/pkg.Service/Method".
func findMethod(files *protoregistry.Files, key string) (protoreflect.MethodDescriptor, error) {
	svc, method, ok := strings.Cut(strings.TrimPrefix(key, "/"), "/")
	if !ok || !strings.HasPrefix(key, "/") || svc == "" || method == "" {
		return nil, fmt.Errorf("grpcsvc: handler key %q: want \"/pkg.Service/Method\"", key)
	}
	d, err := files.FindDescriptorByName(protoreflect.FullName(svc))
	if err != nil {
		return nil, fmt.Errorf("grpcsvc: handler key %q: service: %w", key, err)
	}
	sd, ok := d.(protoreflect.ServiceDescriptor)
	if !ok {
		return nil, fmt.Errorf("grpcsvc: handler key %q: %s is not a service", key, svc)
	}
	md := sd.Methods().ByName(protoreflect.Name(method))
	if md == nil {
		return nil, fmt.Errorf("grpcsvc: handler key %q: no method %s in %s", key, method, svc)
	}
	return md, nil
}
