package openapi

import (
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// Names with a fixed schema.
const (
	statusName    = "google.rpc.Status"
	anyName       = "google.protobuf.Any"
	httpBodyName  = "google.api.HttpBody"
	nullValueName = "google.protobuf.NullValue"
)

// wellKnown answers the JSON form of a google.protobuf type that protojson
// does not write as a plain object, or nil.
func (r *registry) wellKnown(md protoreflect.MessageDescriptor) *schema {
	short, ok := strings.CutPrefix(string(md.FullName()), "google.protobuf.")
	if !ok {
		return nil
	}
	switch short {
	case "Timestamp":
		return &schema{Type: "string", Format: "date-time",
			Description: "An RFC 3339 time in UTC, e.g. 2024-01-02T15:04:05.5Z."}
	case "Duration":
		return &schema{Type: "string", Pattern: `^-?[0-9]+(\.[0-9]{1,9})?s$`,
			Description: "Seconds with up to nine fractional digits and the suffix s, e.g. 1.5s."}
	case "FieldMask":
		return &schema{Type: "string",
			Description: "Comma-separated field paths in lowerCamelCase, e.g. title,publishTime."}
	case "Struct":
		return &schema{Type: "object", AdditionalProperties: true, Description: "Any JSON object."}
	case "Value":
		return &schema{Description: "Any JSON value."}
	case "ListValue":
		return &schema{Type: "array", Items: &schema{}, Description: "Any JSON array."}
	case "Empty":
		return &schema{Type: "object", Description: "An empty object."}
	case "Any":
		return anySchema()
	}
	if k, ok := wrapperKinds[short]; ok {
		s := scalarSchema(k)
		s = orNull(s)
		s.Description = "The " + k.String() + " value, or null."
		return s
	}
	return nil
}

// wrapperKinds maps the wrapper types to the kind of their value.
var wrapperKinds = map[string]protoreflect.Kind{
	"DoubleValue": protoreflect.DoubleKind,
	"FloatValue":  protoreflect.FloatKind,
	"Int64Value":  protoreflect.Int64Kind,
	"UInt64Value": protoreflect.Uint64Kind,
	"Int32Value":  protoreflect.Int32Kind,
	"UInt32Value": protoreflect.Uint32Kind,
	"BoolValue":   protoreflect.BoolKind,
	"StringValue": protoreflect.StringKind,
	"BytesValue":  protoreflect.BytesKind,
}

// anySchema is google.protobuf.Any in JSON: the type URL in @type and the
// message's own fields beside it (or "value" for a type with a special
// JSON form).
func anySchema() *schema {
	return &schema{
		Type: "object",
		Description: "A message of any type: @type names it (type.googleapis.com/full.Name) " +
			"and its JSON fields follow; a type with a special JSON form puts it in value.",
		Properties:           props{{name: "@type", s: &schema{Type: "string"}}},
		Required:             []string{"@type"},
		AdditionalProperties: true,
	}
}

// statusSchema is google.rpc.Status, the body of every error answer.
func statusSchema() *schema {
	return &schema{
		Type:        "object",
		Description: "An error: the gRPC status code, a message, and detail messages.",
		Properties: props{
			{name: "code", s: &schema{Type: "integer", Format: "int32",
				Description: "The gRPC status code (google.rpc.Code), e.g. 5 for NOT_FOUND."}},
			{name: "message", s: &schema{Type: "string", Description: "A developer-facing message."}},
			{name: "details", s: &schema{Type: "array", Items: &schema{Ref: refPrefix + anyName},
				Description: "Details such as google.rpc.BadRequest or google.rpc.ErrorInfo."}},
		},
	}
}

// binarySchema is a raw body: google.api.HttpBody's data with its content
// type.
func binarySchema() *schema {
	return &schema{Type: "string", Format: "binary"}
}

// isHTTPBody reports a google.api.HttpBody message.
func isHTTPBody(md protoreflect.MessageDescriptor) bool {
	return md != nil && md.FullName() == httpBodyName
}
