package openapi

import (
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/bouncer-proxy/bouncer/transcode/params"
)

// maxQueryDepth bounds the fields of a query parameter's path: deeper
// fields (and recursive types) are still decoded, only not listed.
const maxQueryDepth = 3

// boundParam is a path parameter and the field it fills (nil for a
// wildcard outside variables).
type boundParam struct {
	param *parameter
	path  params.Path
}

// pathParam describes the path parameter v of a template over in.
func (b *builder) pathParam(in protoreflect.MessageDescriptor, v pathVar) (boundParam, error) {
	p := &parameter{Name: v.name, In: "path", Required: true, MultiSegment: v.multi}
	if v.fieldPath == "" {
		p.Description = "Any single path segment; matched but not passed to the method."
		if v.multi {
			p.Description = "Any path segments; matched but not passed to the method. " + multiNote
		}
		p.Schema = &schema{Type: "string"}
		return boundParam{param: p}, nil
	}
	path, err := params.Resolve(in, v.fieldPath)
	if err != nil {
		return boundParam{}, err
	}
	fd := path[len(path)-1]
	p.Schema = b.paramSchema(fd)
	if v.pattern != "" {
		p.Schema = &schema{Type: "string", Pattern: v.pattern}
	}
	p.Description = comment(fd)
	if v.multi {
		p.Description = joinText(p.Description, multiNote)
	}
	if v.name != v.fieldPath {
		p.FieldPath = v.fieldPath
		p.Description = joinText(p.Description, "Fills the field "+v.fieldPath+".")
	}
	p.Deprecated = isDeprecated(fd.Options())
	return boundParam{param: p, path: path}, nil
}

// queryParams lists the fields of in that the query may set: every one not
// bound (or under a bound field), by dotted path.
func (b *builder) queryParams(in protoreflect.MessageDescriptor, bound []params.Path) []*parameter {
	var out []*parameter
	var walk func(md protoreflect.MessageDescriptor, prefix string, path params.Path, required bool)
	walk = func(md protoreflect.MessageDescriptor, prefix string, path params.Path, required bool) {
		fields := md.Fields()
		for i := range fields.Len() {
			fd := fields.Get(i)
			p := append(append(params.Path(nil), path...), fd)
			if isBound(bound, p) || fd.IsMap() {
				continue
			}
			name := prefix + b.reg.jsonName(fd)
			req := required && isRequired(fd)
			sub := fd.Message()
			switch {
			case sub == nil || queryLeaf(sub):
				out = append(out, b.queryParam(fd, name, req))
			case !fd.IsList() && !strings.HasPrefix(string(sub.FullName()), "google.protobuf.") && len(p) < maxQueryDepth:
				walk(sub, name+".", p, req)
			}
		}
	}
	walk(in, "", nil, true)
	return out
}

// queryParam describes one query parameter.
func (b *builder) queryParam(fd protoreflect.FieldDescriptor, name string, required bool) *parameter {
	p := &parameter{Name: name, In: "query", Description: comment(fd), Required: required,
		Deprecated: isDeprecated(fd.Options()), Schema: b.paramSchema(fd)}
	if fd.IsList() {
		explode := true
		p.Style, p.Explode = "form", &explode
		p.Description = joinText(p.Description, "Repeat the parameter for each value.")
	}
	return p
}

// paramSchema is an inline schema for a parameter holding fd: scalars,
// enums by name, and the well-known types with a text form.
func (b *builder) paramSchema(fd protoreflect.FieldDescriptor) *schema {
	var s *schema
	switch {
	case fd.Enum() != nil:
		s = enumSchema(fd.Enum())
	case fd.Message() != nil:
		s = b.reg.wellKnown(fd.Message())
		if s == nil {
			s = &schema{Type: "string"}
		}
	default:
		s = scalarSchema(fd.Kind())
	}
	if fd.IsList() {
		return &schema{Type: "array", Items: s}
	}
	return s
}

// queryLeaf reports the message types a query value can fill.
func queryLeaf(md protoreflect.MessageDescriptor) bool {
	short, ok := strings.CutPrefix(string(md.FullName()), "google.protobuf.")
	if !ok {
		return false
	}
	_, wrapper := wrapperKinds[short]
	return wrapper || short == "Timestamp" || short == "Duration" || short == "FieldMask"
}

// isBound reports whether a bound path is p or a prefix of it.
func isBound(bound []params.Path, p params.Path) bool {
next:
	for _, bp := range bound {
		if len(bp) > len(p) {
			continue
		}
		for i := range bp {
			if bp[i] != p[i] {
				continue next
			}
		}
		return true
	}
	return false
}
