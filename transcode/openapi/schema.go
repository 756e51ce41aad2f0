package openapi

import (
	"bytes"
	"encoding/json"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// schema is a JSON Schema (2020-12, the dialect of OpenAPI 3.1) with the
// keywords this package writes.
type schema struct {
	Ref                  string     `json:"$ref,omitempty"`
	Type                 any        `json:"type,omitempty"` // string, or []string with "null"
	Format               string     `json:"format,omitempty"`
	ContentEncoding      string     `json:"contentEncoding,omitempty"`
	Pattern              string     `json:"pattern,omitempty"`
	Description          string     `json:"description,omitempty"`
	Enum                 []string   `json:"enum,omitempty"`
	Items                *schema    `json:"items,omitempty"`
	Properties           props      `json:"properties,omitempty"`
	AdditionalProperties any        `json:"additionalProperties,omitempty"` // *schema or true
	PropertyNames        *schema    `json:"propertyNames,omitempty"`
	Required             []string   `json:"required,omitempty"`
	AnyOf                []*schema  `json:"anyOf,omitempty"`
	ReadOnly             bool       `json:"readOnly,omitempty"`
	Deprecated           bool       `json:"deprecated,omitempty"`
	Oneofs               []oneofDoc `json:"x-oneofs,omitempty"`
}

// oneofDoc names a oneof and its members (JSON property names): at most one
// of them is set. JSON Schema could express it only with a clumsy
// combination of not/required, which renderers show poorly.
type oneofDoc struct {
	Name   string   `json:"name"`
	Fields []string `json:"fields"`
}

// prop is one property of an object schema.
type prop struct {
	name string
	s    *schema
}

// props keeps properties in field order; it marshals as a JSON object.
type props []prop

// MarshalJSON writes the properties in order.
func (p props) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, pr := range p {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(pr.name)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(pr.s)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// refPrefix is where component schemas live.
const refPrefix = "#/components/schemas/"

// registry collects the component schemas reached from the operations.
// A name is entered before its fields are walked, so recursion stops.
type registry struct {
	schemas   map[string]*schema
	protoName bool
	nulls     bool // unset fields with presence are written as null
}

func newRegistry(o Options) *registry {
	r := &registry{schemas: map[string]*schema{}, protoName: o.UseProtoNames, nulls: o.EmitDefaults}
	r.schemas[statusName] = statusSchema()
	r.schemas[anyName] = anySchema()
	return r
}

// ref answers a $ref to the message md, entering it first if new.
func (r *registry) ref(md protoreflect.MessageDescriptor) *schema {
	name := string(md.FullName())
	if _, ok := r.schemas[name]; !ok {
		r.schemas[name] = &schema{} // placeholder: stops recursion
		r.schemas[name] = r.message(md)
	}
	return &schema{Ref: refPrefix + name}
}

// enumRef answers a $ref to the enum ed, entering it first if new.
func (r *registry) enumRef(ed protoreflect.EnumDescriptor) *schema {
	name := string(ed.FullName())
	if _, ok := r.schemas[name]; !ok {
		r.schemas[name] = enumSchema(ed)
	}
	return &schema{Ref: refPrefix + name}
}

// jsonName is the property name of fd in this document.
func (r *registry) jsonName(fd protoreflect.FieldDescriptor) string {
	if r.protoName {
		return string(fd.Name())
	}
	return fd.JSONName()
}

// message builds the schema of md: a well-known type's JSON form, or an
// object with one property per field.
func (r *registry) message(md protoreflect.MessageDescriptor) *schema {
	if s := r.wellKnown(md); s != nil {
		return s
	}
	s := &schema{Type: "object", Description: comment(md)}
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		name := r.jsonName(fd)
		s.Properties = append(s.Properties, prop{name: name, s: r.property(fd)})
		if isRequired(fd) {
			s.Required = append(s.Required, name)
		}
	}
	oneofs := md.Oneofs()
	for i := range oneofs.Len() {
		od := oneofs.Get(i)
		if od.IsSynthetic() {
			continue
		}
		doc := oneofDoc{Name: string(od.Name())}
		members := od.Fields()
		for j := range members.Len() {
			doc.Fields = append(doc.Fields, r.jsonName(members.Get(j)))
		}
		s.Oneofs = append(s.Oneofs, doc)
	}
	if md.Options() != nil && isDeprecated(md.Options()) {
		s.Deprecated = true
	}
	return s
}

// property is the schema of field fd inside its message: its value schema
// with the field's comment, oneof membership and behaviour.
func (r *registry) property(fd protoreflect.FieldDescriptor) *schema {
	s := r.field(fd)
	if r.nulls && fd.HasPresence() && fd.ContainingOneof() == nil {
		s = orNull(s)
	}
	desc := comment(fd)
	if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() {
		desc = joinText(desc, "Member of the oneof "+string(od.Name())+": at most one of its fields is set.")
	}
	s.Description = joinText(s.Description, desc)
	s.ReadOnly = isOutputOnly(fd)
	s.Deprecated = isDeprecated(fd.Options())
	return s
}

// field is the schema of the values fd holds: a map, a list or one value.
func (r *registry) field(fd protoreflect.FieldDescriptor) *schema {
	switch {
	case fd.IsMap():
		s := &schema{Type: "object", AdditionalProperties: r.single(fd.MapValue())}
		if p := mapKeyPattern(fd.MapKey().Kind()); p != "" {
			s.PropertyNames = &schema{Pattern: p}
		}
		return s
	case fd.IsList():
		return &schema{Type: "array", Items: r.single(fd)}
	}
	return r.single(fd)
}

// single is the schema of one value of fd's kind.
func (r *registry) single(fd protoreflect.FieldDescriptor) *schema {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return r.ref(fd.Message())
	case protoreflect.EnumKind:
		if fd.Enum().FullName() == nullValueName {
			return &schema{Type: "null"}
		}
		return r.enumRef(fd.Enum())
	}
	return scalarSchema(fd.Kind())
}

// orNull widens s to allow null too.
func orNull(s *schema) *schema {
	switch t := s.Type.(type) {
	case string:
		if s.Ref == "" && s.Enum == nil {
			s.Type = []string{t, "null"}
			return s
		}
	case nil:
		if s.Ref == "" && s.AnyOf != nil {
			s.AnyOf = append(s.AnyOf, &schema{Type: "null"})
			return s
		}
	}
	return &schema{AnyOf: []*schema{s, {Type: "null"}}}
}

// enumSchema lists the value names of ed; their comments go to the
// description.
func enumSchema(ed protoreflect.EnumDescriptor) *schema {
	s := &schema{Type: "string", Description: comment(ed)}
	values := ed.Values()
	var lines []string
	for i := range values.Len() {
		v := values.Get(i)
		s.Enum = append(s.Enum, string(v.Name()))
		if c := comment(v); c != "" {
			lines = append(lines, "- "+string(v.Name())+": "+oneLine(c))
		}
	}
	for _, l := range lines {
		s.Description = joinText(s.Description, l)
	}
	return s
}

// scalarSchema maps a scalar kind to its proto3 JSON form.
func scalarSchema(k protoreflect.Kind) *schema {
	switch k {
	case protoreflect.BoolKind:
		return &schema{Type: "boolean"}
	case protoreflect.StringKind:
		return &schema{Type: "string"}
	case protoreflect.BytesKind:
		return &schema{Type: "string", Format: "byte", ContentEncoding: "base64"}
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return &schema{Type: "integer", Format: "int32"}
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return &schema{Type: "integer", Format: "uint32"}
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return &schema{Type: "string", Format: "int64"}
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return &schema{Type: "string", Format: "uint64"}
	case protoreflect.FloatKind:
		return floatSchema("float")
	case protoreflect.DoubleKind:
		return floatSchema("double")
	}
	return &schema{}
}

// floatSchema is a number, or one of the strings protojson writes for the
// values JSON numbers cannot hold.
func floatSchema(format string) *schema {
	return &schema{AnyOf: []*schema{
		{Type: "number", Format: format},
		{Type: "string", Enum: []string{"NaN", "Infinity", "-Infinity"}},
	}}
}

// mapKeyPattern constrains the JSON keys of a map with non-string keys.
func mapKeyPattern(k protoreflect.Kind) string {
	switch k {
	case protoreflect.BoolKind:
		return "^(true|false)$"
	case protoreflect.StringKind:
		return ""
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return "^[0-9]+$"
	}
	return "^-?[0-9]+$"
}
