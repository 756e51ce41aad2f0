package grpcsvc

import (
	"context"
	"errors"
	"io"
	"slices"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	rpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	rpbalpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// reflectV1 sends one v1 reflection request and answers the response.
func reflectV1(ctx context.Context, conn *grpc.ClientConn, req *rpb.ServerReflectionRequest) (*rpb.ServerReflectionResponse, error) {
	st, err := rpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		return nil, err
	}
	defer st.CloseSend()
	// Send returns io.EOF when the server already ended the stream (an
	// unimplemented service, say); Recv then reports the status.
	if err := st.Send(req); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return st.Recv()
}

// servicesV1 lists the services through reflection v1.
func servicesV1(t *testing.T, conn *grpc.ClientConn) []string {
	t.Helper()
	resp, err := reflectV1(testContext(t), conn, &rpb.ServerReflectionRequest{
		MessageRequest: &rpb.ServerReflectionRequest_ListServices{ListServices: "*"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	slices.Sort(names)
	return names
}

// fileNamesV1 answers the names of the files sent for a symbol, and the
// error message of the reflection answer, if any.
func fileNamesV1(t *testing.T, conn *grpc.ClientConn, symbol string) ([]string, string) {
	t.Helper()
	resp, err := reflectV1(testContext(t), conn, &rpb.ServerReflectionRequest{
		MessageRequest: &rpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: symbol},
	})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, b := range resp.GetFileDescriptorResponse().GetFileDescriptorProto() {
		fdp := &descriptorpb.FileDescriptorProto{}
		if err := proto.Unmarshal(b, fdp); err != nil {
			t.Fatal(err)
		}
		names = append(names, fdp.GetName())
	}
	return names, resp.GetErrorResponse().GetErrorMessage()
}

func TestReflectionV1(t *testing.T) {
	files := compile(t, testProto)
	s, err := New(files, testHandlers(msgType(t, files)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	conn := serve(t, s)

	want := []string{"grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection", "t.v1.Test"}
	if got := servicesV1(t, conn); !slices.Equal(got, want) {
		t.Fatalf("services = %q, want %q", got, want)
	}
	names, _ := fileNamesV1(t, conn, "t.v1.Test.Unary")
	if len(names) < 3 || names[0] != "t.proto" || !slices.Contains(names, "google/protobuf/empty.proto") {
		t.Fatalf("files for t.v1.Test.Unary = %q", names)
	}
	if names, _ := fileNamesV1(t, conn, "grpc.reflection.v1.ServerReflection"); len(names) == 0 {
		t.Fatal("no file for the reflection service itself")
	}
	if _, msg := fileNamesV1(t, conn, "t.v1.Absent"); msg == "" {
		t.Fatal("no error for an unknown symbol")
	}

	resp, err := reflectV1(testContext(t), conn, &rpb.ServerReflectionRequest{
		MessageRequest: &rpb.ServerReflectionRequest_AllExtensionNumbersOfType{AllExtensionNumbersOfType: "google.protobuf.MethodOptions"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.GetAllExtensionNumbersResponse().GetExtensionNumber(); !slices.Equal(got, []int32{50000}) {
		t.Fatalf("extension numbers of MethodOptions = %v", got)
	}
	resp, err = reflectV1(testContext(t), conn, &rpb.ServerReflectionRequest{
		MessageRequest: &rpb.ServerReflectionRequest_FileContainingExtension{FileContainingExtension: &rpb.ExtensionRequest{
			ContainingType: "google.protobuf.MethodOptions", ExtensionNumber: 50000,
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(resp.GetFileDescriptorResponse().GetFileDescriptorProto()); n == 0 {
		t.Fatal("no file for extension 50000")
	}
}

func TestReflectionV1AlphaOnly(t *testing.T) {
	files := compile(t, testProto)
	s, err := New(files, testHandlers(msgType(t, files)), Options{DisableReflectionV1: true})
	if err != nil {
		t.Fatal(err)
	}
	conn := serve(t, s)
	ctx := testContext(t)

	if _, err := reflectV1(ctx, conn, &rpb.ServerReflectionRequest{
		MessageRequest: &rpb.ServerReflectionRequest_ListServices{ListServices: "*"},
	}); status.Code(err) != codes.Unimplemented {
		t.Fatalf("v1 reflection err = %v, want Unimplemented", err)
	}
	st, err := rpbalpha.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer st.CloseSend()
	if err := st.Send(&rpbalpha.ServerReflectionRequest{
		MessageRequest: &rpbalpha.ServerReflectionRequest_ListServices{ListServices: "*"},
	}); err != nil {
		t.Fatal(err)
	}
	resp, err := st.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	slices.Sort(names)
	if want := []string{"grpc.reflection.v1alpha.ServerReflection", "t.v1.Test"}; !slices.Equal(names, want) {
		t.Fatalf("v1alpha services = %q, want %q", names, want)
	}
}

func TestReflectionDisabled(t *testing.T) {
	files := compile(t, testProto)
	s, err := New(files, testHandlers(msgType(t, files)), Options{DisableReflectionV1: true, DisableReflectionV1Alpha: true})
	if err != nil {
		t.Fatal(err)
	}
	conn := serve(t, s)
	_, err = reflectV1(testContext(t), conn, &rpb.ServerReflectionRequest{
		MessageRequest: &rpb.ServerReflectionRequest_ListServices{ListServices: "*"},
	})
	if status.Code(err) != codes.Unimplemented {
		t.Fatalf("err = %v, want Unimplemented", err)
	}
}

func TestSwap(t *testing.T) {
	v1 := compile(t, testProto)
	s, err := New(v1, testHandlers(msgType(t, v1)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	conn := serve(t, s)
	ctx := testContext(t)

	v2 := compile(t, testProtoV2)
	md := msgType(t, v2)
	if err := conn.Invoke(ctx, "/t.v1.Extra/Hello", newMsg(md, "", 0), dynamicpb.NewMessage(md)); status.Code(err) != codes.Unimplemented {
		t.Fatalf("before swap: err = %v, want Unimplemented", err)
	}
	if _, msg := fileNamesV1(t, conn, "t.v1.Extra"); msg == "" {
		t.Fatal("before swap: reflection knows t.v1.Extra")
	}

	handlers := map[string]Handler{"/t.v1.Extra/Hello": func(c *Call) error {
		in, err := c.Recv()
		if err != nil {
			return err
		}
		return c.Send(newMsg(md, "hello "+text(in), 0))
	}}
	if err := s.Swap(v2, map[string]Handler{"/t.v1.Nope/X": handlers["/t.v1.Extra/Hello"]}); err == nil {
		t.Fatal("swap with a bad key succeeded")
	}
	if err := s.Swap(v2, handlers); err != nil {
		t.Fatal(err)
	}

	resp := dynamicpb.NewMessage(md)
	if err := conn.Invoke(ctx, "/t.v1.Extra/Hello", newMsg(md, "you", 0), resp); err != nil {
		t.Fatalf("after swap: %v", err)
	}
	if text(resp) != "hello you" {
		t.Fatalf("after swap: text = %q", text(resp))
	}
	if err := conn.Invoke(ctx, "/t.v1.Test/Unary", newMsg(md, "", 0), dynamicpb.NewMessage(md)); status.Code(err) != codes.Unimplemented {
		t.Fatalf("after swap: removed method err = %v, want Unimplemented", err)
	}
	want := []string{"grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection", "t.v1.Extra"}
	if got := servicesV1(t, conn); !slices.Equal(got, want) {
		t.Fatalf("after swap: services = %q, want %q", got, want)
	}
	if names, msg := fileNamesV1(t, conn, "t.v1.Extra.Hello"); msg != "" || len(names) == 0 {
		t.Fatalf("after swap: files for t.v1.Extra.Hello = %q, %q", names, msg)
	}
}
