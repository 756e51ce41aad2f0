package descriptors

import (
	"context"
	"crypto/tls"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/anypb"
)

const (
	v1Method      = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
	v1alphaMethod = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
)

func serviceNames(s *Set) []string {
	var out []string
	for _, sd := range s.Services {
		out = append(out, string(sd.FullName()))
	}
	return out
}

func TestFetchReflection(t *testing.T) {
	serverTLS, clientTLS := selfSigned(t)
	tests := []struct {
		name       string
		cfg        upstreamConfig
		opts       Options
		wantMethod string
	}{
		{"v1 h2c", upstreamConfig{}, Options{}, v1Method},
		{"v1alpha only", upstreamConfig{v1alphaOnly: true}, Options{}, v1alphaMethod},
		{"v1 tls", upstreamConfig{tls: serverTLS}, Options{TLS: clientTLS}, v1Method},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := startUpstream(t, tt.cfg)
			set, err := fetch(t, u.addr, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := serviceNames(set); !slices.Equal(got, []string{"grpc.testing.TestService"}) {
				t.Errorf("services = %v, want only grpc.testing.TestService (health and reflection skipped)", got)
			}
			if _, err := set.Files.FindFileByPath("grpc/testing/messages.proto"); err != nil {
				t.Errorf("import of test.proto missing: %v", err)
			}
			mt, err := set.Types.FindMessageByName("grpc.testing.SimpleRequest")
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := mt.New().Interface().(*dynamicpb.Message); !ok {
				t.Errorf("Types makes %T, want dynamic messages from the fetched files", mt.New().Interface())
			}
			if len(set.Digest) != 64 {
				t.Errorf("digest %q is not hex sha256", set.Digest)
			}
			if u.streamsOf(tt.wantMethod) == 0 {
				t.Errorf("no stream on %s", tt.wantMethod)
			}
		})
	}
}

func TestFetchSendsMetadataOnReflection(t *testing.T) {
	u := startUpstream(t, upstreamConfig{})
	_, err := fetch(t, u.addr, Options{Metadata: map[string]string{"Authorization": "Bearer s3cret", "x-tenant": "t1"}})
	if err != nil {
		t.Fatal(err)
	}
	mds := u.metadata()
	if len(mds) == 0 {
		t.Fatal("no reflection stream reached the server")
	}
	for _, md := range mds {
		if got := md.Get("authorization"); !slices.Equal(got, []string{"Bearer s3cret"}) {
			t.Errorf("authorization = %q", got)
		}
		if got := md.Get("x-tenant"); !slices.Equal(got, []string{"t1"}) {
			t.Errorf("x-tenant = %q", got)
		}
	}
}

func TestFetchAnnotationsAndTypes(t *testing.T) {
	u := startUpstream(t, upstreamConfig{schema: newSchema(t, thingsFile("bouncer/test/v1/things.proto", []string{"GetThing"}))})
	set, err := fetch(t, u.addr, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := serviceNames(set); !slices.Equal(got, []string{"bouncer.test.v1.Things"}) {
		t.Fatalf("services = %v", got)
	}
	md := set.Services[0].Methods().ByName("GetThing")
	rule, ok := proto.GetExtension(md.Options(), annotations.E_Http).(*annotations.HttpRule)
	if !ok || rule.GetGet() != "/v1/GetThing/{id}" {
		t.Fatalf("google.api.http = %v (%T), want a typed rule GET /v1/GetThing/{id}", rule, rule)
	}

	// An Any holding a type known only from the fetched files resolves
	// through Types.
	thing := dynamicpb.NewMessage(md.Output())
	thing.Set(md.Output().Fields().ByName("name"), protoreflect.ValueOfString("lamp"))
	raw, err := proto.Marshal(thing)
	if err != nil {
		t.Fatal(err)
	}
	a := &anypb.Any{TypeUrl: "type.googleapis.com/bouncer.test.v1.Thing", Value: raw}
	if _, err := protojson.Marshal(a); err == nil {
		t.Fatal("the global registry resolved a type it should not know")
	}
	out, err := protojson.MarshalOptions{Resolver: set.Types}.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `"name":"lamp"`) && !strings.Contains(string(out), `"name": "lamp"`) {
		t.Errorf("any = %s", out)
	}
}

func TestFetchMissingImports(t *testing.T) {
	optsOnly := thingsFile("bouncer/test/v1/things.proto", []string{"GetThing"}, "acme/options.proto")
	opts := optsOnly.Service[0].Method[0].Options
	opts.ProtoReflect().SetUnknown(protowire.AppendString(protowire.AppendTag(nil, 50001, protowire.BytesType), "x"))

	needsType := thingsFile("bouncer/test/v1/things.proto", []string{"GetThing"}, "acme/widget.proto")
	needsType.Service[0].Method[0].OutputType = proto.String(".acme.Widget")

	tests := []struct {
		name    string
		file    *descriptorpb.FileDescriptorProto
		wantErr string
	}{
		{"import carrying options only", optsOnly, ""},
		{"import carrying a used type", needsType, "acme/widget.proto"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := startUpstream(t, upstreamConfig{schema: newSchema(t, tt.file)})
			set, err := fetch(t, u.addr, Options{})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			md := set.Services[0].Methods().ByName("GetThing")
			if md == nil || len(md.Options().ProtoReflect().GetUnknown()) == 0 {
				t.Errorf("method or its unknown option lost: %v", md)
			}
		})
	}
}

func TestFetchDigest(t *testing.T) {
	v1 := thingsFile("bouncer/test/v1/things.proto", []string{"GetThing"})
	v2 := thingsFile("bouncer/test/v1/things.proto", []string{"GetThing", "ListThings"})
	sch := newSchema(t, v1)
	u := startUpstream(t, upstreamConfig{schema: sch})

	digest := func() (string, *Set) {
		t.Helper()
		set, err := fetch(t, u.addr, Options{})
		if err != nil {
			t.Fatal(err)
		}
		return set.Digest, set
	}
	first, _ := digest()
	if again, _ := digest(); again != first {
		t.Fatalf("digest changed between fetches of the same files: %s then %s", first, again)
	}
	sch.swap(t, v2)
	changed, set := digest()
	if changed == first {
		t.Fatal("digest unchanged after a method was added")
	}
	if set.Services[0].Methods().ByName("ListThings") == nil {
		t.Error("new method not in the fetched set: the client cached old files")
	}
	sch.swap(t, v1)
	if back, _ := digest(); back != first {
		t.Errorf("digest %s after going back, want %s", back, first)
	}
}

// refusedAddr returns a loopback address where nothing listens any more.
func refusedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestFetchFailures(t *testing.T) {
	refused := refusedAddr(t)

	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, never answered
		}
	}()
	plain := startUpstream(t, upstreamConfig{})

	tests := []struct {
		name string
		addr string
		opts Options
	}{
		{"connection refused", refused, Options{Timeout: 2 * time.Second}},
		{"server never answers", silent.Addr().String(), Options{Timeout: 200 * time.Millisecond}},
		{"tls to a plaintext server", plain.addr, Options{Timeout: 2 * time.Second, TLS: &tls.Config{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			_, err := Fetch(context.Background(), tt.addr, tt.opts)
			if err == nil {
				t.Fatal("fetch succeeded")
			}
			if !strings.HasPrefix(err.Error(), "descriptors: ") || !strings.Contains(err.Error(), tt.addr) {
				t.Errorf("err = %v, want it prefixed and naming the address", err)
			}
			if el := time.Since(start); el > tt.opts.Timeout+2*time.Second {
				t.Errorf("took %v with a %v timeout", el, tt.opts.Timeout)
			}
		})
	}
}
