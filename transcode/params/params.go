// Package params fills protobuf messages from URL path variables and query
// parameters, as google.api.http transcoding requires
// (google/api/http.proto): a variable or a query key names a field by a
// dotted path, and its text is parsed by the leaf field's type.
//
// Field paths are resolved once, when a binding is built (Resolve,
// NewQueryDecoder); the request path only walks the resolved descriptors.
// Everything here works on protoreflect.Message, so dynamicpb messages made
// from descriptors fetched at run time are filled the same way as generated
// ones.
package params

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// Path is a resolved field path: every element but the last is a singular
// message field of the message before it, the first a field of the message
// it was resolved against.
type Path []protoreflect.FieldDescriptor

// String returns the path with proto field names, "a.b.c".
func (p Path) String() string {
	var b strings.Builder
	for i, fd := range p {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(string(fd.Name()))
	}
	return b.String()
}

// maxEcho bounds how many bytes of client input one error repeats.
const maxEcho = 64

// maxDepth bounds the elements of a field path: a query key naming a
// message nested thousands deep would make the request that deep.
const maxDepth = 100

// FieldError is the error for a field path or value that cannot be used.
// Field is the path as written (at most 64 bytes of it), Reason says what is
// wrong; together they never repeat more than 64 bytes of client input.
type FieldError struct {
	Field  string
	Reason string
}

// Error renders `field "a.b": reason`.
func (e *FieldError) Error() string {
	return "field " + strconv.Quote(e.Field) + ": " + e.Reason
}

// newFieldError clips field to the echo budget.
func newFieldError(field, reason string) *FieldError {
	return &FieldError{Field: clip(field, maxEcho), Reason: reason}
}

// quoteInput quotes the client text s, clipped to what is left of the echo
// budget after field.
func quoteInput(field, s string) string {
	n := maxEcho - len(clip(field, maxEcho))
	c := clip(s, n)
	if len(c) < len(s) {
		return strconv.Quote(c) + "..."
	}
	return strconv.Quote(c)
}

// clip cuts s to at most n bytes, on a rune boundary where one is near.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	for i := n; i > 0 && i > n-utf8.UTFMax; i-- {
		if utf8.RuneStart(s[i]) {
			return s[:i]
		}
	}
	return s[:n]
}

// Resolve walks the dotted field path in md. Each element is a proto field
// name or its json_name; every element but the last must be a singular
// message field. The last may be of any kind: what may be set from text is
// checked by SetPath and the query decoder. Resolve is meant for load time;
// errors are *FieldError naming the path and what is wrong.
func Resolve(md protoreflect.MessageDescriptor, dotted string) (Path, error) {
	p, re := walkPath(md, dotted)
	if re != nil {
		return nil, newFieldError(dotted, re.reason)
	}
	return p, nil
}

// resolveError is what walkPath found wrong; unknown marks a name that is
// no field at all (an unknown query key), as opposed to a path through a
// field that cannot hold sub-fields.
type resolveError struct {
	reason  string
	unknown bool
}

// walkPath resolves dotted against md without building a FieldError (the
// query decoder ignores unknown keys). On error it returns the elements
// resolved before the wrong one.
func walkPath(md protoreflect.MessageDescriptor, dotted string) (Path, *resolveError) {
	if dotted == "" {
		return nil, &resolveError{reason: "empty field path", unknown: true}
	}
	var buf Path
	rest := dotted
	for i := 1; ; i++ {
		name, tail, more := strings.Cut(rest, ".")
		if i > maxDepth {
			return buf, &resolveError{reason: "field path longer than " + strconv.Itoa(maxDepth) + " elements"}
		}
		if name == "" {
			return buf, &resolveError{reason: "empty element in field path", unknown: true}
		}
		if md == nil {
			prev := buf[len(buf)-1]
			return buf, &resolveError{reason: string(prev.Name()) + " is " + describe(prev) +
				"; only a singular message field has sub-fields"}
		}
		fd := lookupField(md, name)
		if fd == nil {
			return buf, &resolveError{reason: "element " + strconv.Itoa(i) + " (" + quoteInput(dotted, name) +
				") is not a field of " + string(md.FullName()), unknown: true}
		}
		buf = append(buf, fd)
		if !more {
			return buf, nil
		}
		md = nil
		if fd.Message() != nil && !fd.IsList() && !fd.IsMap() {
			md = fd.Message()
		}
		rest = tail
	}
}

// lookupField finds a field by proto name, then by JSON name.
func lookupField(md protoreflect.MessageDescriptor, name string) protoreflect.FieldDescriptor {
	fields := md.Fields()
	if fd := fields.ByName(protoreflect.Name(name)); fd != nil {
		return fd
	}
	return fields.ByJSONName(name)
}

// describe names the shape of a field for error texts: "a map field",
// "an int32 field".
func describe(fd protoreflect.FieldDescriptor) string {
	switch {
	case fd.IsMap():
		return "a map field"
	case fd.IsList():
		return "a repeated field"
	}
	k := fd.Kind().String()
	if strings.IndexByte("aeiou", k[0]) >= 0 {
		return "an " + k + " field"
	}
	return "a " + k + " field"
}
