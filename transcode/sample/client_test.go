package sample

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
)

// client calls the library with dynamic messages written as JSON.
type client struct {
	t     *testing.T
	ctx   context.Context
	conn  *grpc.ClientConn
	svc   protoreflect.ServiceDescriptor
	types *dynamicpb.Types
}

// startClient starts a fresh library on loopback and connects to it.
func startClient(t *testing.T) *client {
	t.Helper()
	addr, stop, err := Start("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	conn, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	files := mustFiles(t)
	d, err := files.FindDescriptorByName(ServiceName)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return &client{t: t, ctx: ctx, conn: conn, svc: d.(protoreflect.ServiceDescriptor), types: dynamicpb.NewTypes(files)}
}

func mustFiles(t *testing.T) *protoregistry.Files {
	t.Helper()
	files, err := Files()
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func (c *client) method(name string) protoreflect.MethodDescriptor {
	c.t.Helper()
	md := c.svc.Methods().ByName(protoreflect.Name(name))
	if md == nil {
		c.t.Fatalf("no method %s", name)
	}
	return md
}

// decode answers a message of type md holding the JSON js.
func (c *client) decode(md protoreflect.MessageDescriptor, js string) *dynamicpb.Message {
	c.t.Helper()
	m := dynamicpb.NewMessage(md)
	if err := (protojson.UnmarshalOptions{Resolver: c.types}).Unmarshal([]byte(js), m); err != nil {
		c.t.Fatalf("decode %s %s: %v", md.FullName(), js, err)
	}
	return m
}

// unary calls method with the JSON request req.
func (c *client) unary(method, req string, opts ...grpc.CallOption) (*dynamicpb.Message, error) {
	c.t.Helper()
	md := c.method(method)
	resp := dynamicpb.NewMessage(md.Output())
	err := c.conn.Invoke(c.ctx, "/"+ServiceName+"/"+method, c.decode(md.Input(), req), resp, opts...)
	return resp, err
}

// stream sends the JSON requests, closes, and answers every response.
func (c *client) stream(method string, reqs ...string) ([]*dynamicpb.Message, error) {
	c.t.Helper()
	md := c.method(method)
	desc := &grpc.StreamDesc{ClientStreams: md.IsStreamingClient(), ServerStreams: md.IsStreamingServer()}
	st, err := c.conn.NewStream(c.ctx, desc, "/"+ServiceName+"/"+method)
	if err != nil {
		return nil, err
	}
	for _, r := range reqs {
		if err := st.SendMsg(c.decode(md.Input(), r)); err != nil {
			return nil, err
		}
	}
	if err := st.CloseSend(); err != nil {
		return nil, err
	}
	var out []*dynamicpb.Message
	for {
		m := dynamicpb.NewMessage(md.Output())
		err := st.RecvMsg(m)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, m)
	}
}
