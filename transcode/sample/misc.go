package sample

import (
	"slices"
	"strconv"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/bouncer-proxy/bouncer/transcode/grpcsvc"
)

// uploadFile stores the HttpBody of an UploadFileRequest under its path.
func (l *library) uploadFile(_ *grpcsvc.Call, in *dynamicpb.Message) (proto.Message, error) {
	path := str(in, "path")
	if err := checkPath(path); err != nil {
		return nil, err
	}
	f := storedFile{contentType: "application/octet-stream"}
	if body := msg(in, "file"); body != nil {
		if ct := str(body, "content_type"); ct != "" {
			f.contentType = ct
		}
		f.data = slices.Clone(body.Get(field(body, "data")).Bytes())
	}
	l.mu.Lock()
	l.files[path] = f
	l.mu.Unlock()
	out := l.s.newMessage(typeFileInfo)
	set(out, "path", protoreflect.ValueOfString(path))
	set(out, "content_type", protoreflect.ValueOfString(f.contentType))
	set(out, "size", protoreflect.ValueOfInt64(int64(len(f.data))))
	return out, nil
}

// downloadFile answers a stored file as an HttpBody.
func (l *library) downloadFile(_ *grpcsvc.Call, in *dynamicpb.Message) (proto.Message, error) {
	path := str(in, "path")
	if err := checkPath(path); err != nil {
		return nil, err
	}
	l.mu.Lock()
	f, ok := l.files[path]
	l.mu.Unlock()
	if !ok {
		return nil, notFound("file", path)
	}
	out := l.s.newMessage(typeHTTPBody)
	set(out, "content_type", protoreflect.ValueOfString(f.contentType))
	set(out, "data", protoreflect.ValueOfBytes(slices.Clone(f.data)))
	return out, nil
}

// checkPath accepts relative slash-separated paths without empty, "." or
// ".." segments.
func checkPath(path string) error {
	if path == "" {
		return badRequest("path", "required")
	}
	for _, seg := range strings.Split(path, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return badRequest("path", "empty, \".\" or \"..\" segment")
		}
	}
	return nil
}

// echoRaw answers the request HttpBody unchanged.
func (l *library) echoRaw(_ *grpcsvc.Call, in *dynamicpb.Message) (proto.Message, error) {
	return in, nil
}

// echo answers the request unchanged, returning "x-echo-*" metadata as
// response headers and setting the trailer "x-echo-trailer: done".
func (l *library) echo(c *grpcsvc.Call, in *dynamicpb.Message) (proto.Message, error) {
	header := metadata.MD{}
	for k, v := range c.Metadata() {
		if strings.HasPrefix(k, "x-echo-") {
			header[k] = v
		}
	}
	if err := c.SetHeader(header); err != nil {
		return nil, err
	}
	c.SetTrailer(metadata.Pairs("x-echo-trailer", "done"))
	return in, nil
}

// fail answers the status asked for; code 0 succeeds.
func (l *library) fail(_ *grpcsvc.Call, in *dynamicpb.Message) (proto.Message, error) {
	code := num(in, "code")
	if code < 0 {
		return nil, badRequest("code", "must not be negative")
	}
	if code == 0 {
		return l.s.newMessage(typeEmpty), nil
	}
	message := str(in, "message")
	if message == "" {
		message = "failure requested"
	}
	c := codes.Code(code)
	if !in.Get(field(in, "details")).Bool() {
		return nil, withDetails(c, message)
	}
	return nil, withDetails(c, message,
		&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
			{Field: "code", Description: "failure requested with code " + strconv.FormatInt(code, 10)},
		}},
		&errdetails.ErrorInfo{Reason: "FAILURE_REQUESTED", Domain: "library.bouncer.example",
			Metadata: map[string]string{"code": strconv.FormatInt(code, 10)}})
}

// countBooks counts the books of parent, or of every shelf.
func (l *library) countBooks(_ *grpcsvc.Call, in *dynamicpb.Message) (proto.Message, error) {
	all, err := l.matching(l.listRequest(str(in, "parent")))
	if err != nil {
		return nil, err
	}
	out := l.s.newMessage(typeCount)
	set(out, "count", protoreflect.ValueOfInt64(int64(len(all))))
	return out, nil
}
