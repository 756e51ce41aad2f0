package openapi

import (
	"slices"
	"strings"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// comment answers the leading (else trailing) comment of d from its file's
// source info, without comment markers' indentation; "" when the
// descriptors carry no source info, as reflection usually sends them.
func comment(d protoreflect.Descriptor) string {
	f := d.ParentFile()
	if f == nil {
		return ""
	}
	loc := f.SourceLocations().ByDescriptor(d)
	text := loc.LeadingComments
	if strings.TrimSpace(text) == "" {
		text = loc.TrailingComments
	}
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(strings.TrimPrefix(l, " "), " \t\r")
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

// summary is the first sentence of a comment's first paragraph, on one
// line.
func summary(c string) string {
	para, _, _ := strings.Cut(c, "\n\n")
	para = oneLine(para)
	if i := strings.Index(para, ". "); i >= 0 {
		return para[:i+1]
	}
	return para
}

// oneLine joins the lines of s with spaces.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// joinText appends paragraph b to a.
func joinText(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "\n\n" + b
}

// behaviors answers the google.api.field_behavior values of fd. Options
// decoded before the extension was linked hold it as unknown bytes: they
// are decoded again with the linked types.
func behaviors(fd protoreflect.FieldDescriptor) []annotations.FieldBehavior {
	opts, ok := fd.Options().(*descriptorpb.FieldOptions)
	if !ok || opts == nil {
		return nil
	}
	if !proto.HasExtension(opts, annotations.E_FieldBehavior) && len(opts.ProtoReflect().GetUnknown()) > 0 {
		b, err := proto.Marshal(opts)
		again := &descriptorpb.FieldOptions{}
		if err != nil || proto.Unmarshal(b, again) != nil {
			return nil
		}
		opts = again
	}
	v, _ := proto.GetExtension(opts, annotations.E_FieldBehavior).([]annotations.FieldBehavior)
	return v
}

// isRequired reports a field marked REQUIRED, or a proto2 required field.
func isRequired(fd protoreflect.FieldDescriptor) bool {
	return fd.Cardinality() == protoreflect.Required ||
		slices.Contains(behaviors(fd), annotations.FieldBehavior_REQUIRED)
}

// isOutputOnly reports a field marked OUTPUT_ONLY: set by the server,
// ignored in requests.
func isOutputOnly(fd protoreflect.FieldDescriptor) bool {
	return slices.Contains(behaviors(fd), annotations.FieldBehavior_OUTPUT_ONLY)
}

// isDeprecated reads the deprecated option of any descriptor's options.
func isDeprecated(opts proto.Message) bool {
	if opts == nil {
		return false
	}
	m := opts.ProtoReflect()
	fd := m.Descriptor().Fields().ByName("deprecated")
	return fd != nil && fd.Kind() == protoreflect.BoolKind && m.Get(fd).Bool()
}
