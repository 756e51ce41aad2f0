package params

import (
	"google.golang.org/protobuf/reflect/protoreflect"
)

// SetPath parses value by the type of p's last field and sets it in m,
// creating the intermediate messages. A repeated leaf gets the value
// appended; a singular one is overwritten. Setting a member of a oneof
// while another member of it is set is an error, in the leaf or on the way
// to it. p must have been resolved against m's descriptor (the same
// descriptor value). SetPath only reads p; it is safe for concurrent use on
// different messages. Errors are *FieldError naming p.
func SetPath(m protoreflect.Message, p Path, value string) error {
	if err := checkTarget(m, p); err != nil {
		return err
	}
	leaf := p[len(p)-1]
	kind, reason := classify(leaf)
	if reason != "" {
		return newFieldError(p.String(), reason)
	}
	parent, reason := descend(m, p)
	if reason != "" {
		return newFieldError(p.String(), reason)
	}
	if problem := setLeaf(parent, leaf, kind, value); problem != "" {
		return valueError(p.String(), problem, value)
	}
	return nil
}

// Settable reports whether SetPath and the query decoder can set fd from
// text: a scalar or enum field, or a Timestamp, Duration, FieldMask or
// wrapper field, singular or repeated. The error (a *FieldError naming fd)
// says why not. For load-time checks of path variables and bodies.
func Settable(fd protoreflect.FieldDescriptor) error {
	if _, reason := classify(fd); reason != "" {
		return newFieldError(string(fd.Name()), reason)
	}
	return nil
}

// checkTarget refuses a path that does not start in m's message type, so a
// mix-up between bindings is an error and not a dynamicpb panic.
func checkTarget(m protoreflect.Message, p Path) error {
	if len(p) == 0 {
		return newFieldError("", "empty field path")
	}
	if p[0].ContainingMessage() != m.Descriptor() {
		return newFieldError(p.String(), "path resolved against "+string(p[0].ContainingMessage().FullName())+
			", not the message's type "+string(m.Descriptor().FullName()))
	}
	return nil
}

// descend walks to the message holding p's leaf, creating the messages on
// the way, and checks the oneofs of every element, leaf included.
func descend(m protoreflect.Message, p Path) (protoreflect.Message, string) {
	last := len(p) - 1
	for i, fd := range p {
		if reason := checkOneof(m, fd); reason != "" {
			return nil, reason
		}
		if i == last {
			break
		}
		if fd.Message() == nil || fd.IsList() || fd.IsMap() {
			return nil, string(fd.Name()) + " is " + describe(fd) + "; only a singular message field has sub-fields"
		}
		m = m.Mutable(fd).Message()
	}
	return m, ""
}

// checkOneof refuses fd if another member of its oneof is set in m.
// Synthetic oneofs (proto3 optional) have a single member.
func checkOneof(m protoreflect.Message, fd protoreflect.FieldDescriptor) string {
	od := fd.ContainingOneof()
	if od == nil || od.IsSynthetic() {
		return ""
	}
	if set := m.WhichOneof(od); set != nil && set != fd {
		return "oneof " + string(od.Name()) + " already has " + string(set.Name()) + " set"
	}
	return ""
}

// setLeaf parses s for fd and sets or appends it in parent. It returns the
// problem with s, without s.
func setLeaf(parent protoreflect.Message, fd protoreflect.FieldDescriptor, kind leafKind, s string) string {
	var v protoreflect.Value
	if kind == leafScalar {
		var problem string
		if v, problem = parseScalar(fd, s); problem != "" {
			return problem
		}
	} else {
		if fd.IsList() {
			v = parent.Mutable(fd).List().NewElement()
		} else {
			v = parent.NewField(fd)
		}
		if problem := fillWellKnown(v.Message(), kind, s); problem != "" {
			return problem
		}
	}
	if fd.IsList() {
		parent.Mutable(fd).List().Append(v)
	} else {
		parent.Set(fd, v)
	}
	return ""
}

// valueError reports a value that does not parse, quoting as much of it as
// the echo budget leaves after the field.
func valueError(field, problem, value string) *FieldError {
	f := clip(field, maxEcho)
	return &FieldError{Field: f, Reason: problem + ": " + quoteInput(f, value)}
}
