package params

import (
	"strings"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// leafKind says how text becomes a value of a leaf field.
type leafKind uint8

const (
	leafScalar    leafKind = iota // scalar or enum
	leafTimestamp                 // google.protobuf.Timestamp, RFC 3339
	leafDuration                  // google.protobuf.Duration, "1.5s"
	leafFieldMask                 // google.protobuf.FieldMask, "a.b,c"
	leafWrapper                   // google.protobuf.*Value wrappers, their scalar form
)

// Reasons a leaf cannot take text.
const (
	reasonMap         = "map fields cannot be set from the query"
	reasonRepeatedMsg = "repeated message fields cannot be set from the query"
)

// classify returns how fd takes text, or the reason it cannot.
// Well-known types are recognised by name and checked for the expected
// shape, since descriptors fetched at run time could declare anything.
func classify(fd protoreflect.FieldDescriptor) (leafKind, string) {
	if fd.IsMap() {
		return 0, reasonMap
	}
	md := fd.Message()
	if md == nil {
		return leafScalar, ""
	}
	if k, ok := wellKnown(md); ok {
		return k, ""
	}
	if fd.IsList() {
		return 0, reasonRepeatedMsg
	}
	return 0, "message fields of type " + string(md.FullName()) + " cannot be set from the query"
}

// wellKnown reports the well-known types that have a text form here.
func wellKnown(md protoreflect.MessageDescriptor) (leafKind, bool) {
	name := string(md.FullName())
	short, ok := strings.CutPrefix(name, "google.protobuf.")
	if !ok {
		return 0, false
	}
	fields := md.Fields()
	switch short {
	case "Timestamp", "Duration":
		k := leafTimestamp
		if short == "Duration" {
			k = leafDuration
		}
		return k, hasField(fields, 1, protoreflect.Int64Kind, false) && hasField(fields, 2, protoreflect.Int32Kind, false)
	case "FieldMask":
		return leafFieldMask, hasField(fields, 1, protoreflect.StringKind, true)
	}
	want, ok := wrapperKind(short)
	return leafWrapper, ok && hasField(fields, 1, want, false)
}

// wrapperKind maps a wrapper message's short name to its value's kind.
func wrapperKind(short string) (protoreflect.Kind, bool) {
	switch short {
	case "DoubleValue":
		return protoreflect.DoubleKind, true
	case "FloatValue":
		return protoreflect.FloatKind, true
	case "Int64Value":
		return protoreflect.Int64Kind, true
	case "UInt64Value":
		return protoreflect.Uint64Kind, true
	case "Int32Value":
		return protoreflect.Int32Kind, true
	case "UInt32Value":
		return protoreflect.Uint32Kind, true
	case "BoolValue":
		return protoreflect.BoolKind, true
	case "StringValue":
		return protoreflect.StringKind, true
	case "BytesValue":
		return protoreflect.BytesKind, true
	}
	return 0, false
}

func hasField(fields protoreflect.FieldDescriptors, n protoreflect.FieldNumber, k protoreflect.Kind, list bool) bool {
	fd := fields.ByNumber(n)
	return fd != nil && fd.Kind() == k && fd.IsList() == list
}

// fillWellKnown parses s into m, a fresh message of the kind k.
func fillWellKnown(m protoreflect.Message, k leafKind, s string) string {
	fields := m.Descriptor().Fields()
	switch k {
	case leafTimestamp:
		secs, nanos, problem := parseTimestamp(s)
		if problem != "" {
			return problem
		}
		setSecondsNanos(m, fields, secs, nanos)
	case leafDuration:
		secs, nanos, problem := parseDuration(s)
		if problem != "" {
			return problem
		}
		setSecondsNanos(m, fields, secs, nanos)
	case leafFieldMask:
		return parseFieldMask(m, fields.ByNumber(1), s)
	case leafWrapper:
		fd := fields.ByNumber(1)
		v, problem := parseScalar(fd, s)
		if problem != "" {
			return problem
		}
		m.Set(fd, v)
	}
	return ""
}

func setSecondsNanos(m protoreflect.Message, fields protoreflect.FieldDescriptors, secs int64, nanos int32) {
	m.Set(fields.ByNumber(1), protoreflect.ValueOfInt64(secs))
	m.Set(fields.ByNumber(2), protoreflect.ValueOfInt32(nanos))
}

// Ranges of the JSON mapping (google/protobuf/timestamp.proto, duration.proto).
const (
	minTimestamp = -62135596800 // 0001-01-01T00:00:00Z
	maxTimestamp = 253402300799 // 9999-12-31T23:59:59Z
	maxDuration  = 315576000000 // 10,000 years
)

// parseTimestamp takes RFC 3339 with at most nine fractional digits.
func parseTimestamp(s string) (int64, int32, string) {
	const bad = "invalid RFC 3339 timestamp"
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, 0, bad
	}
	// time.Parse takes any number of fractional digits (after '.' or ','),
	// the JSON mapping at most nine.
	if dot := strings.LastIndexAny(s, ".,"); dot >= 0 {
		zone := strings.LastIndexAny(s, "Zz+-")
		if zone > dot && zone-dot-1 > 9 {
			return 0, 0, bad
		}
	}
	secs := t.Unix()
	if secs < minTimestamp || secs > maxTimestamp {
		return 0, 0, "timestamp out of range"
	}
	return secs, int32(t.Nanosecond()), ""
}

// parseDuration takes the JSON form: an optionally signed decimal number of
// seconds with at most nine fractional digits and the suffix "s" ("1.5s",
// "-3s", ".5s").
func parseDuration(s string) (int64, int32, string) {
	const bad = "invalid duration (want seconds like 1.5s)"
	body, ok := strings.CutSuffix(s, "s")
	if !ok {
		return 0, 0, bad
	}
	neg := false
	if body != "" && (body[0] == '-' || body[0] == '+') {
		neg, body = body[0] == '-', body[1:]
	}
	intPart, frac, _ := strings.Cut(body, ".")
	if intPart == "" && frac == "" || len(frac) > 9 || len(intPart) > 1 && intPart[0] == '0' {
		return 0, 0, bad
	}
	var secs int64
	for i := 0; i < len(intPart); i++ {
		c := intPart[i]
		if c < '0' || c > '9' {
			return 0, 0, bad
		}
		if secs = secs*10 + int64(c-'0'); secs > maxDuration {
			return 0, 0, "duration out of range"
		}
	}
	var nanos int32
	for i := 0; i < 9; i++ {
		nanos *= 10
		if i < len(frac) {
			c := frac[i]
			if c < '0' || c > '9' {
				return 0, 0, bad
			}
			nanos += int32(c - '0')
		}
	}
	if neg {
		secs, nanos = -secs, -nanos
	}
	return secs, nanos, ""
}

// parseFieldMask takes comma-separated paths, each in lowerCamel (the JSON
// form) or in snake_case, and stores them in snake_case. A snake_case path
// must come back unchanged from lowerCamel, or protojson could not write it
// out again (google/protobuf/field_mask.proto, JSON encoding).
func parseFieldMask(m protoreflect.Message, paths protoreflect.FieldDescriptor, s string) string {
	if strings.TrimSpace(s) == "" {
		return ""
	}
	list := m.Mutable(paths).List()
	for rest, more := s, true; more; {
		var p string
		p, rest, more = strings.Cut(rest, ",")
		p = strings.TrimSpace(p)
		if strings.IndexByte(p, '_') < 0 {
			p = toSnake(p)
		} else if !reversibleSnake(p) {
			return "invalid field mask path"
		}
		if !protoreflect.FullName(p).IsValid() {
			return "invalid field mask path"
		}
		list.Append(protoreflect.ValueOfString(p))
	}
	return ""
}

// reversibleSnake reports whether s survives snake_case -> lowerCamel ->
// snake_case: the camel form drops each '_' and upper-cases the letter
// after it, so s may hold no upper-case letter and each '_' must precede a
// lower-case one.
func reversibleSnake(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'A' <= c && c <= 'Z':
			return false
		case c == '_' && (i+1 == len(s) || s[i+1] < 'a' || s[i+1] > 'z'):
			return false
		}
	}
	return true
}

// toSnake writes each upper-case letter as an underscore and its lower
// case; without upper-case letters it returns s itself.
func toSnake(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			n++
		}
	}
	if n == 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			b.WriteByte('_')
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	return b.String()
}
