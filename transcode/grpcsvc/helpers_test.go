package grpcsvc

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/bouncer-proxy/bouncer/transcode/internal/protoc"
)

// testProto declares one method of each call kind; testProtoV2 adds a
// service, for Swap.
const testProto = `syntax = "proto3";
package t.v1;
import "google/protobuf/empty.proto";
import "google/protobuf/descriptor.proto";
extend google.protobuf.MethodOptions { string note = 50000; }
message Msg { string text = 1; int64 n = 2; }
service Test {
  rpc Unary(Msg) returns (Msg);
  rpc Upload(stream Msg) returns (Msg);
  rpc Download(Msg) returns (stream Msg);
  rpc Chat(stream Msg) returns (stream Msg);
  rpc Silent(google.protobuf.Empty) returns (google.protobuf.Empty);
  rpc Panic(Msg) returns (Msg);
  rpc Wrong(Msg) returns (Msg);
  rpc Twice(Msg) returns (Msg);
}
`

const testProtoV2 = testProto + `
service Extra {
  rpc Hello(Msg) returns (Msg);
}
`

// compile builds a registry from one source file.
func compile(t *testing.T, src string) *protoregistry.Files {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "t.proto"), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	files, _, err := protoc.Compile(context.Background(), dir, "t.proto")
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// serve starts s on a loopback port and answers a client connection to it;
// both are closed when the test ends.
func serve(t *testing.T, s *Server) *grpc.ClientConn {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	conn, err := grpc.NewClient("passthrough:///"+l.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		s.Stop()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return conn
}

// msgType answers the descriptor of t.v1.Msg.
func msgType(t *testing.T, files *protoregistry.Files) protoreflect.MessageDescriptor {
	t.Helper()
	d, err := files.FindDescriptorByName("t.v1.Msg")
	if err != nil {
		t.Fatal(err)
	}
	return d.(protoreflect.MessageDescriptor)
}

// newMsg answers a t.v1.Msg with text and n set.
func newMsg(md protoreflect.MessageDescriptor, text string, n int64) *dynamicpb.Message {
	m := dynamicpb.NewMessage(md)
	m.Set(md.Fields().ByName("text"), protoreflect.ValueOfString(text))
	m.Set(md.Fields().ByName("n"), protoreflect.ValueOfInt64(n))
	return m
}

// text answers the text field of a t.v1.Msg.
func text(m *dynamicpb.Message) string {
	return m.Get(m.Descriptor().Fields().ByName("text")).String()
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}
