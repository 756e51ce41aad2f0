package transcode_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/bouncer-proxy/bouncer/transcode/sample"
)

// libMethod finds a method of the sample's Library service.
func libMethod(t *testing.T, name string) protoreflect.MethodDescriptor {
	t.Helper()
	files, err := sample.Files()
	if err != nil {
		t.Fatal(err)
	}
	d, err := files.FindDescriptorByName(protoreflect.FullName(sample.ServiceName + "." + name))
	if err != nil {
		t.Fatal(err)
	}
	return d.(protoreflect.MethodDescriptor)
}

// Native gRPC clients reach the service through the same route: unary and
// server streaming calls, status codes with their details intact.
func TestNativeGRPC(t *testing.T) {
	f := startFixture(t, "")
	conn, err := grpc.NewClient(strings.TrimPrefix(f.URL, "http://"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	get := libMethod(t, "GetShelf")
	in := dynamicpb.NewMessage(get.Input())
	in.Set(get.Input().Fields().ByName("name"), protoreflect.ValueOfString("shelves/1"))
	out := dynamicpb.NewMessage(get.Output())
	if err := conn.Invoke(ctx, "/"+sample.ServiceName+"/GetShelf", in, out); err != nil {
		t.Fatalf("unary: %v", err)
	}
	if out.Get(get.Output().Fields().ByName("theme")).String() == "" {
		t.Fatalf("unary answer %v", out)
	}

	fail := libMethod(t, "Fail")
	fin := dynamicpb.NewMessage(fail.Input())
	fin.Set(fail.Input().Fields().ByName("code"), protoreflect.ValueOfInt32(int32(codes.FailedPrecondition)))
	fin.Set(fail.Input().Fields().ByName("details"), protoreflect.ValueOfBool(true))
	err = conn.Invoke(ctx, "/"+sample.ServiceName+"/Fail", fin, dynamicpb.NewMessage(fail.Output()))
	st, _ := status.FromError(err)
	if st.Code() != codes.FailedPrecondition || len(st.Details()) == 0 {
		t.Fatalf("error through the proxy: %v (details %v)", err, st.Details())
	}
	if _, ok := st.Details()[0].(*errdetails.BadRequest); !ok {
		t.Fatalf("details %T", st.Details()[0])
	}

	sb := libMethod(t, "StreamBooks")
	stream, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, "/"+sample.ServiceName+"/StreamBooks")
	if err != nil {
		t.Fatal(err)
	}
	req := dynamicpb.NewMessage(sb.Input())
	req.Set(sb.Input().Fields().ByName("parent"), protoreflect.ValueOfString("shelves/1"))
	if err := stream.SendMsg(req); err != nil {
		t.Fatal(err)
	}
	_ = stream.CloseSend()
	n := 0
	for {
		m := dynamicpb.NewMessage(sb.Output())
		if err := stream.RecvMsg(m); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("stream: %v", err)
		}
		n++
	}
	if n != 2 {
		t.Fatalf("streamed %d books, want 2", n)
	}
}

// grpcWebFrame frames msg as a gRPC(-Web) data frame.
func grpcWebFrame(msg []byte) []byte {
	var h [5]byte
	binary.BigEndian.PutUint32(h[1:], uint32(len(msg)))
	return append(h[:], msg...)
}

// gRPC-Web from a browser-style HTTP/1.1 request, binary and text modes:
// the message frames come back with the trailers as a final frame.
func TestGRPCWeb(t *testing.T) {
	f := startFixture(t, "")
	get := libMethod(t, "GetShelf")
	in := dynamicpb.NewMessage(get.Input())
	in.Set(get.Input().Fields().ByName("name"), protoreflect.ValueOfString("shelves/2"))
	raw, _ := proto.Marshal(in)
	for _, mode := range []string{"application/grpc-web+proto", "application/grpc-web-text"} {
		body := grpcWebFrame(raw)
		if strings.Contains(mode, "text") {
			body = []byte(base64.StdEncoding.EncodeToString(body))
		}
		req, _ := http.NewRequest("POST", f.URL+"/"+sample.ServiceName+"/GetShelf", bytes.NewReader(body))
		req.Header.Set("Content-Type", mode)
		req.Header.Set("X-Grpc-Web", "1")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if strings.Contains(mode, "text") {
			data, err = base64.StdEncoding.DecodeString(string(data))
			if err != nil {
				t.Fatalf("text mode body: %v", err)
			}
		}
		if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/grpc-web") {
			t.Fatalf("%s: %d %q", mode, res.StatusCode, res.Header.Get("Content-Type"))
		}
		var msgs [][]byte
		var trailer string
		for len(data) >= 5 {
			n := binary.BigEndian.Uint32(data[1:5])
			frame := data[5 : 5+n]
			if data[0]&0x80 != 0 {
				trailer = string(frame)
			} else {
				msgs = append(msgs, frame)
			}
			data = data[5+n:]
		}
		out := dynamicpb.NewMessage(get.Output())
		if len(msgs) != 1 || proto.Unmarshal(msgs[0], out) != nil || out.Get(get.Output().Fields().ByName("name")).String() != "shelves/2" {
			t.Fatalf("%s: messages %q", mode, msgs)
		}
		if !strings.Contains(trailer, "grpc-status: 0\r\n") {
			t.Fatalf("%s: trailer frame %q", mode, trailer)
		}
	}
}
