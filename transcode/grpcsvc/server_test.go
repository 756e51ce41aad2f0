package grpcsvc

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/emptypb"
)

// testHandlers implements t.v1.Test; out is the Msg descriptor.
func testHandlers(out protoreflect.MessageDescriptor) map[string]Handler {
	return map[string]Handler{
		"/t.v1.Test/Unary":    func(c *Call) error { return unary(c, out) },
		"/t.v1.Test/Upload":   func(c *Call) error { return upload(c, out) },
		"/t.v1.Test/Download": func(c *Call) error { return download(c, out) },
		"/t.v1.Test/Chat":     func(c *Call) error { return chat(c, out) },
		"/t.v1.Test/Silent": func(c *Call) error {
			_, err := c.Recv()
			return err
		},
		"/t.v1.Test/Panic": func(*Call) error { panic("boom") },
		"/t.v1.Test/Wrong": func(c *Call) error { return c.Send(&emptypb.Empty{}) },
		"/t.v1.Test/Twice": func(c *Call) error {
			if err := c.Send(newMsg(out, "one", 0)); err != nil {
				return err
			}
			return c.Send(newMsg(out, "two", 0))
		},
	}
}

// unary echoes the text, copies metadata x-in to header x-h, sets trailer
// x-t, and fails with code 99 and details when the text is "fail".
func unary(c *Call, out protoreflect.MessageDescriptor) error {
	in, err := c.Recv()
	if err != nil {
		return err
	}
	if text(in) == "fail" {
		st, err := status.New(codes.Code(99), "asked to fail").WithDetails(
			&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "text", Description: "is fail"}}},
			&errdetails.ErrorInfo{Reason: "ASKED", Domain: "test"})
		if err != nil {
			return err
		}
		return st.Err()
	}
	if err := c.SetHeader(metadata.Pairs("x-h", strings.Join(c.Metadata().Get("x-in"), ","))); err != nil {
		return err
	}
	c.SetTrailer(metadata.Pairs("x-t", "done"))
	return c.Send(newMsg(out, "unary:"+text(in), 1))
}

// upload answers the texts received joined with "+".
func upload(c *Call, out protoreflect.MessageDescriptor) error {
	var texts []string
	for {
		in, err := c.Recv()
		if errors.Is(err, io.EOF) {
			return c.Send(newMsg(out, strings.Join(texts, "+"), int64(len(texts))))
		}
		if err != nil {
			return err
		}
		texts = append(texts, text(in))
	}
}

// download sends header x-early, then n messages "text-i".
func download(c *Call, out protoreflect.MessageDescriptor) error {
	in, err := c.Recv()
	if err != nil {
		return err
	}
	if err := c.SendHeader(metadata.Pairs("x-early", "yes")); err != nil {
		return err
	}
	n := in.Get(in.Descriptor().Fields().ByName("n")).Int()
	for i := range n {
		if err := c.Send(newMsg(out, fmt.Sprintf("%s-%d", text(in), i), i)); err != nil {
			return err
		}
	}
	return nil
}

// chat answers each message with "echo:text".
func chat(c *Call, out protoreflect.MessageDescriptor) error {
	for {
		in, err := c.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := c.Send(newMsg(out, "echo:"+text(in), 0)); err != nil {
			return err
		}
	}
}

func TestUnary(t *testing.T) {
	files := compile(t, testProto)
	md := msgType(t, files)
	s, err := New(files, testHandlers(md), Options{})
	if err != nil {
		t.Fatal(err)
	}
	conn := serve(t, s)
	ctx := metadata.AppendToOutgoingContext(testContext(t), "x-in", "a", "x-in", "b")

	var header, trailer metadata.MD
	resp := dynamicpb.NewMessage(md)
	err = conn.Invoke(ctx, "/t.v1.Test/Unary", newMsg(md, "hi", 0), resp, grpc.Header(&header), grpc.Trailer(&trailer))
	if err != nil {
		t.Fatal(err)
	}
	if text(resp) != "unary:hi" {
		t.Errorf("response text = %q", text(resp))
	}
	if got := header.Get("x-h"); len(got) != 1 || got[0] != "a,b" {
		t.Errorf("header x-h = %q, want [a,b]", got)
	}
	if got := trailer.Get("x-t"); len(got) != 1 || got[0] != "done" {
		t.Errorf("trailer x-t = %q", got)
	}
}

func TestErrors(t *testing.T) {
	files := compile(t, testProto)
	md := msgType(t, files)
	s, err := New(files, testHandlers(md), Options{})
	if err != nil {
		t.Fatal(err)
	}
	conn := serve(t, s)
	ctx := testContext(t)

	t.Run("details and a code above 16", func(t *testing.T) {
		err := conn.Invoke(ctx, "/t.v1.Test/Unary", newMsg(md, "fail", 0), dynamicpb.NewMessage(md))
		st := status.Convert(err)
		if st.Code() != codes.Code(99) || st.Message() != "asked to fail" {
			t.Fatalf("status = %v", st)
		}
		details := st.Details()
		if len(details) != 2 {
			t.Fatalf("details = %v", details)
		}
		if br, ok := details[0].(*errdetails.BadRequest); !ok || br.GetFieldViolations()[0].GetField() != "text" {
			t.Errorf("first detail = %v", details[0])
		}
		if ei, ok := details[1].(*errdetails.ErrorInfo); !ok || ei.GetReason() != "ASKED" {
			t.Errorf("second detail = %v", details[1])
		}
	})
	cases := []struct {
		name, method string
		req, resp    any
		want         codes.Code
	}{
		{"unknown method", "/t.v1.Test/Absent", newMsg(md, "", 0), dynamicpb.NewMessage(md), codes.Unimplemented},
		{"unknown service", "/t.v9.Nope/Unary", newMsg(md, "", 0), dynamicpb.NewMessage(md), codes.Unimplemented},
		{"no response", "/t.v1.Test/Silent", &emptypb.Empty{}, &emptypb.Empty{}, codes.Internal},
		{"handler panic", "/t.v1.Test/Panic", newMsg(md, "", 0), dynamicpb.NewMessage(md), codes.Internal},
		{"wrong response type", "/t.v1.Test/Wrong", newMsg(md, "", 0), dynamicpb.NewMessage(md), codes.Internal},
		{"second response", "/t.v1.Test/Twice", newMsg(md, "", 0), dynamicpb.NewMessage(md), codes.Internal},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := conn.Invoke(ctx, tc.method, tc.req, tc.resp)
			if status.Code(err) != tc.want {
				t.Fatalf("err = %v, want code %v", err, tc.want)
			}
		})
	}
}

func TestStreams(t *testing.T) {
	files := compile(t, testProto)
	md := msgType(t, files)
	s, err := New(files, testHandlers(md), Options{})
	if err != nil {
		t.Fatal(err)
	}
	conn := serve(t, s)
	ctx := testContext(t)

	cases := []struct {
		name   string
		method string
		desc   grpc.StreamDesc
		send   []string
		n      int64
		want   []string
	}{
		{"client streaming", "/t.v1.Test/Upload", grpc.StreamDesc{ClientStreams: true}, []string{"a", "b", "c"}, 0, []string{"a+b+c"}},
		{"client streaming, nothing sent", "/t.v1.Test/Upload", grpc.StreamDesc{ClientStreams: true}, nil, 0, []string{""}},
		{"server streaming", "/t.v1.Test/Download", grpc.StreamDesc{ServerStreams: true}, []string{"x"}, 3, []string{"x-0", "x-1", "x-2"}},
		{"bidi", "/t.v1.Test/Chat", grpc.StreamDesc{ClientStreams: true, ServerStreams: true}, []string{"p", "q"}, 0, []string{"echo:p", "echo:q"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, err := conn.NewStream(ctx, &tc.desc, tc.method)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tc.send {
				if err := st.SendMsg(newMsg(md, s, tc.n)); err != nil {
					t.Fatal(err)
				}
			}
			if err := st.CloseSend(); err != nil {
				t.Fatal(err)
			}
			var got []string
			for {
				m := dynamicpb.NewMessage(md)
				err := st.RecvMsg(m)
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, text(m))
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Fatalf("received %q, want %q", got, tc.want)
			}
		})
	}
}

func TestStreamHeader(t *testing.T) {
	files := compile(t, testProto)
	md := msgType(t, files)
	s, err := New(files, testHandlers(md), Options{})
	if err != nil {
		t.Fatal(err)
	}
	conn := serve(t, s)
	ctx := testContext(t)

	st, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, "/t.v1.Test/Download")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SendMsg(newMsg(md, "h", 0)); err != nil {
		t.Fatal(err)
	}
	if err := st.CloseSend(); err != nil {
		t.Fatal(err)
	}
	h, err := st.Header()
	if err != nil || len(h.Get("x-early")) != 1 {
		t.Fatalf("header = %v, %v", h, err)
	}
	if err := st.RecvMsg(dynamicpb.NewMessage(md)); !errors.Is(err, io.EOF) {
		t.Fatalf("recv = %v, want EOF", err)
	}
}

func TestNewRejects(t *testing.T) {
	files := compile(t, testProto)
	ok := func(*Call) error { return nil }
	cases := []struct {
		name     string
		handlers map[string]Handler
		want     string
	}{
		{"no slash", map[string]Handler{"t.v1.Test/Unary": ok}, "want"},
		{"no method", map[string]Handler{"/t.v1.Test": ok}, "want"},
		{"unknown service", map[string]Handler{"/t.v1.Nope/Unary": ok}, "t.v1.Nope"},
		{"not a service", map[string]Handler{"/t.v1.Msg/Unary": ok}, "not a service"},
		{"unknown method", map[string]Handler{"/t.v1.Test/Nope": ok}, "no method Nope"},
		{"nil handler", map[string]Handler{"/t.v1.Test/Unary": nil}, "nil handler"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(files, tc.handlers, Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
	if _, err := New(nil, nil, Options{}); err == nil {
		t.Fatal("New(nil registry) succeeded")
	}
}
