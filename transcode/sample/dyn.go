package sample

import (
	"fmt"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/bouncer-proxy/bouncer/transcode/grpcsvc"
)

// newMessage answers an empty message of one of the schema's types.
func (s *schema) newMessage(name protoreflect.FullName) *dynamicpb.Message {
	return dynamicpb.NewMessage(s.types[name])
}

// adopt re-decodes m against the schema's own descriptor of the same name,
// so that its fields can be read and copied with the schema's field
// descriptors whatever registry the server decoded it with.
func (s *schema) adopt(m proto.Message) (*dynamicpb.Message, error) {
	name := m.ProtoReflect().Descriptor().FullName()
	d, err := s.files.FindDescriptorByName(name)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "sample: %s: %v", name, err)
	}
	md, ok := d.(protoreflect.MessageDescriptor)
	if !ok {
		return nil, status.Errorf(codes.Internal, "sample: %s is not a message", name)
	}
	b, err := proto.Marshal(m)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "sample: encode %s: %v", name, err)
	}
	out := dynamicpb.NewMessage(md)
	if err := proto.Unmarshal(b, out); err != nil {
		return nil, status.Errorf(codes.Internal, "sample: decode %s: %v", name, err)
	}
	return out, nil
}

// recv reads the next request of c in the schema's descriptors.
func (s *schema) recv(c *grpcsvc.Call) (*dynamicpb.Message, error) {
	in, err := c.Recv()
	if err != nil {
		return nil, err
	}
	return s.adopt(in)
}

// field answers the descriptor of the named field of m; the names used in
// this package are those of library.proto, checked by the tests.
func field(m protoreflect.Message, name string) protoreflect.FieldDescriptor {
	fd := m.Descriptor().Fields().ByName(protoreflect.Name(name))
	if fd == nil {
		panic(fmt.Sprintf("sample: %s has no field %s", m.Descriptor().FullName(), name))
	}
	return fd
}

func str(m protoreflect.Message, name string) string { return m.Get(field(m, name)).String() }

func num(m protoreflect.Message, name string) int64 { return m.Get(field(m, name)).Int() }

func set(m protoreflect.Message, name string, v protoreflect.Value) { m.Set(field(m, name), v) }

func has(m protoreflect.Message, name string) bool { return m.Has(field(m, name)) }

// msg answers the named message field of m, or nil when unset.
func msg(m protoreflect.Message, name string) protoreflect.Message {
	if !has(m, name) {
		return nil
	}
	return m.Get(field(m, name)).Message()
}

// strings answers the named repeated string field of m.
func stringList(m protoreflect.Message, name string) []string {
	l := m.Get(field(m, name)).List()
	out := make([]string, l.Len())
	for i := range out {
		out[i] = l.Get(i).String()
	}
	return out
}

// timeOf answers the instant of a google.protobuf.Timestamp message.
func timeOf(ts protoreflect.Message) time.Time {
	return time.Unix(num(ts, "seconds"), int64(ts.Get(field(ts, "nanos")).Int())).UTC()
}

// setTime sets the named Timestamp field of m to t.
func setTime(m protoreflect.Message, name string, t time.Time) {
	ts := m.Mutable(field(m, name)).Message()
	set(ts, "seconds", protoreflect.ValueOfInt64(t.Unix()))
	set(ts, "nanos", protoreflect.ValueOfInt32(int32(t.Nanosecond())))
}

// clone answers a deep copy of m.
func clone(m *dynamicpb.Message) *dynamicpb.Message {
	return proto.Clone(m).(*dynamicpb.Message)
}

// withDetails answers a status error carrying details.
func withDetails(code codes.Code, message string, details ...protoadapt.MessageV1) error {
	st, err := status.New(code, message).WithDetails(details...)
	if err != nil {
		return status.Errorf(codes.Internal, "sample: attach details: %v", err)
	}
	return st.Err()
}

// badRequest answers INVALID_ARGUMENT with a BadRequest field violation.
func badRequest(fieldPath, description string) error {
	return withDetails(codes.InvalidArgument, fmt.Sprintf("%s: %s", fieldPath, description),
		&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
			{Field: fieldPath, Description: description},
		}})
}

// notFound answers NOT_FOUND with a ResourceInfo detail.
func notFound(kind, name string) error {
	return withDetails(codes.NotFound, fmt.Sprintf("%s %q not found", kind, name),
		&errdetails.ResourceInfo{ResourceType: kind, ResourceName: name, Description: "no such " + kind})
}
