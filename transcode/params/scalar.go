package params

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// parseScalar parses s as a value of fd, a scalar or enum field (or the
// value field of a wrapper). On failure it returns a phrase for the reason,
// without the input; the caller adds the quoted input.
func parseScalar(fd protoreflect.FieldDescriptor, s string) (protoreflect.Value, string) {
	switch k := fd.Kind(); k {
	case protoreflect.BoolKind:
		switch s {
		case "true":
			return protoreflect.ValueOfBool(true), ""
		case "false":
			return protoreflect.ValueOfBool(false), ""
		}
		return protoreflect.Value{}, "invalid bool value (want true or false)"
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return protoreflect.Value{}, numberProblem(err, "int32")
		}
		return protoreflect.ValueOfInt32(int32(n)), ""
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return protoreflect.Value{}, numberProblem(err, "int64")
		}
		return protoreflect.ValueOfInt64(n), ""
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		n, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return protoreflect.Value{}, numberProblem(err, "uint32")
		}
		return protoreflect.ValueOfUint32(uint32(n)), ""
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return protoreflect.Value{}, numberProblem(err, "uint64")
		}
		return protoreflect.ValueOfUint64(n), ""
	case protoreflect.FloatKind:
		f, problem := parseFloat(s, 32)
		return protoreflect.ValueOfFloat32(float32(f)), problem
	case protoreflect.DoubleKind:
		f, problem := parseFloat(s, 64)
		return protoreflect.ValueOfFloat64(f), problem
	case protoreflect.StringKind:
		// protojson refuses to write invalid UTF-8, so it is refused here.
		if !utf8.ValidString(s) {
			return protoreflect.Value{}, "invalid UTF-8 in string value"
		}
		return protoreflect.ValueOfString(s), ""
	case protoreflect.BytesKind:
		b, ok := decodeBase64(s)
		if !ok {
			return protoreflect.Value{}, "invalid base64 in bytes value"
		}
		return protoreflect.ValueOfBytes(b), ""
	case protoreflect.EnumKind:
		return parseEnum(fd.Enum(), s)
	default:
		return protoreflect.Value{}, "a " + k.String() + " field has no text form"
	}
}

// numberProblem turns a strconv error into a reason without the input
// (strconv's own texts quote it in full).
func numberProblem(err error, kind string) string {
	if errors.Is(err, strconv.ErrRange) {
		return kind + " value out of range"
	}
	return "invalid " + kind + " value"
}

// parseFloat accepts decimal numbers (with exponent) and the JSON mapping's
// "NaN", "Infinity" and "-Infinity"; not strconv's "inf", "nan" or hex forms.
func parseFloat(s string, bits int) (float64, string) {
	kind := "double"
	if bits == 32 {
		kind = "float"
	}
	switch s {
	case "NaN", "Infinity", "-Infinity":
		f, _ := strconv.ParseFloat(s, bits)
		return f, ""
	}
	digits := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case '0' <= c && c <= '9':
			digits = true
		case c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-':
		default:
			return 0, "invalid " + kind + " value"
		}
	}
	if !digits {
		return 0, "invalid " + kind + " value"
	}
	f, err := strconv.ParseFloat(s, bits)
	if err != nil {
		return 0, numberProblem(err, kind)
	}
	return f, ""
}

// decodeBase64 takes the standard or the URL-safe alphabet, padded or not.
func decodeBase64(s string) ([]byte, bool) {
	unpadded := strings.TrimRight(s, "=")
	if pad := len(s) - len(unpadded); pad > 2 || pad > 0 && len(s)%4 != 0 {
		return nil, false
	}
	enc := base64.RawStdEncoding
	if strings.ContainsAny(unpadded, "-_") {
		enc = base64.RawURLEncoding
	}
	b, err := enc.DecodeString(unpadded)
	if err != nil {
		return nil, false
	}
	return b, true
}

// parseEnum takes a value name or a number. An unknown number is kept for
// an open enum, as proto3 keeps it on the wire; a closed enum refuses it.
func parseEnum(ed protoreflect.EnumDescriptor, s string) (protoreflect.Value, string) {
	values := ed.Values()
	if v := values.ByName(protoreflect.Name(s)); v != nil {
		return protoreflect.ValueOfEnum(v.Number()), ""
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return protoreflect.Value{}, "unknown value for enum " + string(ed.FullName())
	}
	num := protoreflect.EnumNumber(n)
	if ed.IsClosed() && values.ByNumber(num) == nil {
		return protoreflect.Value{}, "unknown number for closed enum " + string(ed.FullName())
	}
	return protoreflect.ValueOfEnum(num), ""
}
