package grpcsvc

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// Call is one gRPC call of any kind, handed to a Handler. It is used from
// the handler's goroutine only: at most one goroutine may Recv and one may
// Send at a time, as with grpc.ServerStream.
type Call struct {
	// Ctx is the call's context: cancelled when the client goes away or the
	// deadline passes; it carries the incoming metadata.
	Ctx context.Context
	// Method describes the method called; its Input and Output are the
	// message types Recv answers and Send accepts.
	Method protoreflect.MethodDescriptor

	stream grpc.ServerStream
	sent   int
}

// Recv reads the next request as a dynamic message of Method.Input(). It
// answers io.EOF once the client has closed its side (after the single
// request of a unary or server-streaming call). A decode or transport
// error is answered as a status error.
func (c *Call) Recv() (*dynamicpb.Message, error) {
	m := dynamicpb.NewMessage(c.Method.Input())
	if err := c.stream.RecvMsg(m); err != nil {
		return nil, err
	}
	return m, nil
}

// Send writes one response, which must be of Method.Output() (a dynamic or
// generated message). A unary or client-streaming call takes exactly one.
func (c *Call) Send(m proto.Message) error {
	if got, want := m.ProtoReflect().Descriptor().FullName(), c.Method.Output().FullName(); got != want {
		return status.Errorf(codes.Internal, "grpcsvc: %s: response is %s, want %s", c.Method.FullName(), got, want)
	}
	if !c.Method.IsStreamingServer() && c.sent > 0 {
		return status.Errorf(codes.Internal, "grpcsvc: %s: second response to a single-response call", c.Method.FullName())
	}
	if err := c.stream.SendMsg(m); err != nil {
		return err
	}
	c.sent++
	return nil
}

// Metadata answers the incoming request metadata (never nil). Keys are
// lowercase; binary keys end in "-bin".
func (c *Call) Metadata() metadata.MD {
	md, ok := metadata.FromIncomingContext(c.Ctx)
	if !ok {
		return metadata.MD{}
	}
	return md
}

// SetHeader adds md to the response headers, sent with the first response
// or by SendHeader; it fails once they have been sent.
func (c *Call) SetHeader(md metadata.MD) error { return c.stream.SetHeader(md) }

// SendHeader sends the response headers now, with md added.
func (c *Call) SendHeader(md metadata.MD) error { return c.stream.SendHeader(md) }

// SetTrailer adds md to the trailers sent when the handler returns.
func (c *Call) SetTrailer(md metadata.MD) { c.stream.SetTrailer(md) }
