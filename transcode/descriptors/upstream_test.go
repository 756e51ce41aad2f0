package descriptors

import (
	"context"
	"crypto/tls"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bouncer-proxy/bouncer/tls/certstest"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthgrpc "google.golang.org/grpc/health/grpc_health_v1"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	v1reflectiongrpc "google.golang.org/grpc/reflection/grpc_reflection_v1"
	v1alphareflectiongrpc "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// upstreamConfig shapes a test gRPC server.
type upstreamConfig struct {
	v1alphaOnly bool        // register only reflection v1alpha
	tls         *tls.Config // serve TLS instead of h2c
	schema      *schema     // serve these files by reflection (nil: TestService and health)
}

// upstream is a real grpc-go server on 127.0.0.1 that records the
// reflection streams it receives.
type upstream struct {
	addr string
	srv  *grpc.Server

	mu      sync.Mutex
	streams map[string]int // full method -> streams started
	md      []metadata.MD  // incoming metadata of every stream

	gate    atomic.Pointer[chan struct{}] // when set, streams wait for it to close
	entered chan string                   // a gated stream arrived
}

type testService struct {
	testgrpc.UnimplementedTestServiceServer
}

func startUpstream(t *testing.T, c upstreamConfig) *upstream {
	t.Helper()
	u := &upstream{streams: map[string]int{}, entered: make(chan string, 16)}
	opts := []grpc.ServerOption{grpc.StreamInterceptor(u.intercept)}
	if c.tls != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(c.tls)))
	}
	u.srv = grpc.NewServer(opts...)
	ro := reflection.ServerOptions{Services: u.srv}
	if c.schema != nil {
		ro = reflection.ServerOptions{Services: c.schema, DescriptorResolver: c.schema}
	} else {
		testgrpc.RegisterTestServiceServer(u.srv, &testService{})
		healthgrpc.RegisterHealthServer(u.srv, health.NewServer())
	}
	if c.v1alphaOnly {
		v1alphareflectiongrpc.RegisterServerReflectionServer(u.srv, reflection.NewServer(ro))
	} else {
		v1reflectiongrpc.RegisterServerReflectionServer(u.srv, reflection.NewServerV1(ro))
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u.addr = l.Addr().String()
	go func() { _ = u.srv.Serve(l) }()
	t.Cleanup(u.srv.Stop)
	return u
}

func (u *upstream) intercept(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	md, _ := metadata.FromIncomingContext(ss.Context())
	u.mu.Lock()
	u.streams[info.FullMethod]++
	u.md = append(u.md, md)
	u.mu.Unlock()
	if g := u.gate.Load(); g != nil {
		u.entered <- info.FullMethod
		select {
		case <-*g:
		case <-ss.Context().Done():
		}
	}
	return h(srv, ss)
}

// count returns the reflection streams started so far.
func (u *upstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	n := 0
	for _, c := range u.streams {
		n += c
	}
	return n
}

func (u *upstream) streamsOf(method string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.streams[method]
}

func (u *upstream) metadata() []metadata.MD {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]metadata.MD(nil), u.md...)
}

// schema is a swappable set of files served by reflection, with every
// service in them listed.
type schema struct {
	files atomic.Pointer[protoregistry.Files]
}

func newSchema(t *testing.T, fdps ...*descriptorpb.FileDescriptorProto) *schema {
	s := &schema{}
	s.swap(t, fdps...)
	return s
}

// swap serves new files: the given ones on top of the google.api
// annotations, with unresolvable imports left as placeholders (the way a
// server with an incomplete registry would hold them).
func (s *schema) swap(t *testing.T, fdps ...*descriptorpb.FileDescriptorProto) {
	t.Helper()
	r := new(protoregistry.Files)
	for _, fd := range []protoreflect.FileDescriptor{
		descriptorpb.File_google_protobuf_descriptor_proto,
		annotations.File_google_api_http_proto,
		annotations.File_google_api_annotations_proto,
	} {
		if err := r.RegisterFile(fd); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range fdps {
		fd, err := protodesc.FileOptions{AllowUnresolvable: true}.New(p, r)
		if err != nil {
			t.Fatalf("test file %s: %v", p.GetName(), err)
		}
		if err := r.RegisterFile(fd); err != nil {
			t.Fatal(err)
		}
	}
	s.files.Store(r)
}

func (s *schema) FindFileByPath(path string) (protoreflect.FileDescriptor, error) {
	return s.files.Load().FindFileByPath(path)
}

func (s *schema) FindDescriptorByName(name protoreflect.FullName) (protoreflect.Descriptor, error) {
	return s.files.Load().FindDescriptorByName(name)
}

func (s *schema) GetServiceInfo() map[string]grpc.ServiceInfo {
	out := map[string]grpc.ServiceInfo{}
	s.files.Load().RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		for i := 0; i < fd.Services().Len(); i++ {
			out[string(fd.Services().Get(i).FullName())] = grpc.ServiceInfo{}
		}
		return true
	})
	return out
}

// thingsFile declares bouncer.test.v1.Things with a google.api.http GET
// rule on each method, plus the extra imports given.
func thingsFile(name string, methods []string, imports ...string) *descriptorpb.FileDescriptorProto {
	str := descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum()
	field := func(n string, num int32) *descriptorpb.FieldDescriptorProto {
		return &descriptorpb.FieldDescriptorProto{Name: proto.String(n), Number: proto.Int32(num),
			Type: str, Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), JsonName: proto.String(n)}
	}
	svc := &descriptorpb.ServiceDescriptorProto{Name: proto.String("Things")}
	for _, m := range methods {
		opts := &descriptorpb.MethodOptions{}
		proto.SetExtension(opts, annotations.E_Http, &annotations.HttpRule{
			Pattern: &annotations.HttpRule_Get{Get: "/v1/" + m + "/{id}"}})
		svc.Method = append(svc.Method, &descriptorpb.MethodDescriptorProto{Name: proto.String(m),
			InputType: proto.String(".bouncer.test.v1.GetThingRequest"), OutputType: proto.String(".bouncer.test.v1.Thing"),
			Options: opts})
	}
	return &descriptorpb.FileDescriptorProto{
		Name:       proto.String(name),
		Package:    proto.String("bouncer.test.v1"),
		Syntax:     proto.String("proto3"),
		Dependency: append([]string{"google/api/annotations.proto"}, imports...),
		MessageType: []*descriptorpb.DescriptorProto{
			{Name: proto.String("Thing"), Field: []*descriptorpb.FieldDescriptorProto{field("id", 1), field("name", 2)}},
			{Name: proto.String("GetThingRequest"), Field: []*descriptorpb.FieldDescriptorProto{field("id", 1)}},
		},
		Service: []*descriptorpb.ServiceDescriptorProto{svc},
	}
}

// selfSigned returns a server TLS config for 127.0.0.1 and a client one
// trusting it.
func selfSigned(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	ca := certstest.NewCA(t)
	return &tls.Config{Certificates: []tls.Certificate{ca.TLSCert(t, "127.0.0.1")}}, &tls.Config{RootCAs: ca.Pool}
}

// fetch is Fetch with a test deadline.
func fetch(t *testing.T, addr string, o Options) (*Set, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return Fetch(ctx, addr, o)
}
