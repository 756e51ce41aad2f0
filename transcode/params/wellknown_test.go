package params

import (
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// TestImpostorWellKnownType: a descriptor fetched at run time may declare
// google.protobuf.Timestamp with another shape; it is then an ordinary
// message, not set from text (and no dynamicpb type panic).
func TestImpostorWellKnownType(t *testing.T) {
	field := func(name string, n int32, typ descriptorpb.FieldDescriptorProto_Type, typeName string) *descriptorpb.FieldDescriptorProto {
		f := &descriptorpb.FieldDescriptorProto{Name: proto.String(name), Number: proto.Int32(n),
			Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), Type: typ.Enum(), JsonName: proto.String(name)}
		if typeName != "" {
			f.TypeName = proto.String(typeName)
		}
		return f
	}
	fdp := &descriptorpb.FileDescriptorProto{
		Name: proto.String("impostor.proto"), Package: proto.String("google.protobuf"), Syntax: proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{
			{Name: proto.String("Timestamp"), Field: []*descriptorpb.FieldDescriptorProto{
				field("seconds", 1, descriptorpb.FieldDescriptorProto_TYPE_STRING, ""),
			}},
			{Name: proto.String("StringValue"), Field: []*descriptorpb.FieldDescriptorProto{
				field("value", 1, descriptorpb.FieldDescriptorProto_TYPE_BYTES, ""),
			}},
			{Name: proto.String("Holder"), Field: []*descriptorpb.FieldDescriptorProto{
				field("ts", 1, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, ".google.protobuf.Timestamp"),
				field("sv", 2, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, ".google.protobuf.StringValue"),
			}},
		},
	}
	fd, err := protodesc.NewFile(fdp, nil)
	if err != nil {
		t.Fatal(err)
	}
	md := fd.Messages().ByName("Holder")
	for path, want := range map[string]string{
		"ts": `field "ts": message fields of type google.protobuf.Timestamp cannot be set from the query`,
		"sv": `field "sv": message fields of type google.protobuf.StringValue cannot be set from the query`,
	} {
		p, err := Resolve(md, path)
		if err != nil {
			t.Fatal(err)
		}
		err = SetPath(dynamicpb.NewMessage(md), p, "2024-01-01T00:00:00Z")
		if err == nil || err.Error() != want {
			t.Errorf("%s: got %v, want %s", path, err, want)
		}
	}
	if err := NewQueryDecoder(md, nil, false).Decode(dynamicpb.NewMessage(md), "ts.seconds=x"); err != nil {
		t.Errorf("sub-field of the impostor: %v", err)
	}
}
