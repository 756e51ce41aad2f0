package params

import (
	"errors"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// Limits of the key table a QueryDecoder builds up front. Deeper or further
// keys are resolved per request (rare in practice, and bounded by the query).
const (
	maxCachedDepth = 3
	maxCachedKeys  = 1024
)

// QueryDecoder fills a message from a URL query. It is built once per
// binding, is immutable, and is safe for concurrent use.
type QueryDecoder struct {
	md     protoreflect.MessageDescriptor
	bound  []Path
	strict bool
	keys   map[string]*queryField // every spelling of the shallow paths
}

// queryField is what a key resolves to.
type queryField struct {
	path   Path
	kind   leafKind
	skip   bool   // the field is bound, or under a bound field
	reason string // why the leaf cannot be set from the query; "" if it can
}

// NewQueryDecoder prepares decoding query parameters into messages of type
// md. bound lists the paths already filled from the URL path or the body
// (resolved against md): query keys naming them or their sub-fields are
// skipped. With strict, a key that names no field is an error; otherwise it
// is ignored.
func NewQueryDecoder(md protoreflect.MessageDescriptor, bound []Path, strict bool) *QueryDecoder {
	d := &QueryDecoder{md: md, bound: append([]Path(nil), bound...), strict: strict,
		keys: map[string]*queryField{}}
	d.fillKeys()
	return d
}

// fillKeys enters the paths of up to maxCachedDepth elements, in every mix
// of proto and JSON names, breadth first, until maxCachedKeys.
func (d *QueryDecoder) fillKeys() {
	type node struct {
		prefix string
		path   Path
		md     protoreflect.MessageDescriptor
	}
	level := []node{{md: d.md}}
	for depth := 1; depth <= maxCachedDepth && len(level) > 0; depth++ {
		var next []node
		for _, n := range level {
			fields := n.md.Fields()
			for i := 0; i < fields.Len(); i++ {
				fd := fields.Get(i)
				p := append(append(Path(nil), n.path...), fd)
				f := d.newField(p)
				for _, name := range spellings(fd) {
					if len(d.keys) >= maxCachedKeys {
						return
					}
					key := n.prefix + name
					d.keys[key] = f
					if fd.Message() != nil && !fd.IsList() && !fd.IsMap() {
						next = append(next, node{prefix: key + ".", path: p, md: fd.Message()})
					}
				}
			}
		}
		level = next
	}
}

// spellings returns the proto name and, if it differs, the JSON name.
func spellings(fd protoreflect.FieldDescriptor) []string {
	name := string(fd.Name())
	if fd.JSONName() != name {
		return []string{name, fd.JSONName()}
	}
	return []string{name}
}

// newField classifies a resolved path.
func (d *QueryDecoder) newField(p Path) *queryField {
	f := &queryField{path: p, skip: d.isBound(p)}
	f.kind, f.reason = classify(p[len(p)-1])
	return f
}

// isBound reports whether a bound path is a prefix of p (or p itself).
func (d *QueryDecoder) isBound(p Path) bool {
next:
	for _, b := range d.bound {
		if len(b) > len(p) {
			continue
		}
		for i := range b {
			if b[i] != p[i] {
				continue next
			}
		}
		return true
	}
	return false
}

// errWrongType is returned when Decode gets a message of another type.
var errWrongType = errors.New("params: message type does not match the query decoder")

// Decode parses rawQuery (as in URL.RawQuery: '&'-separated key=value pairs,
// percent-encoded, '+' a space) and sets the fields its keys name (dotted
// paths of proto or JSON names). A repeated field gets every value in
// order; a singular field given twice is an error; oneofs as in SetPath.
// Keys naming bound fields are skipped; a key naming no field is ignored,
// or an error if strict. A malformed escape is an error wherever it is.
// Errors are *FieldError with the key as written (see FieldError).
func (d *QueryDecoder) Decode(m protoreflect.Message, rawQuery string) error {
	if m.Descriptor() != d.md {
		return errWrongType
	}
	var seen seenSet
	for rawQuery != "" {
		var pair string
		pair, rawQuery, _ = strings.Cut(rawQuery, "&")
		if pair == "" {
			continue
		}
		rawKey, rawValue, _ := strings.Cut(pair, "=")
		key, ok := unescape(rawKey)
		if !ok {
			return newFieldError(rawKey, "malformed percent-encoding in the query parameter name")
		}
		f, err := d.lookup(key)
		if err == nil && f != nil && !f.skip {
			err = d.set(m, f, key, rawValue, &seen)
		} else if err == nil && !validEscapes(rawValue) {
			err = newFieldError(key, "malformed percent-encoding in the query parameter value")
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// lookup resolves a key: from the table, else by walking the descriptors.
// nil, nil: an unknown key to ignore.
func (d *QueryDecoder) lookup(key string) (*queryField, *FieldError) {
	if f, ok := d.keys[key]; ok {
		return f, nil
	}
	p, re := walkPath(d.md, key)
	switch {
	case d.isBound(p):
		return &queryField{skip: true}, nil
	case re == nil:
		return d.newField(p), nil
	case re.unknown && !d.strict:
		return nil, nil
	case re.unknown:
		return nil, newFieldError(key, "unknown query parameter: "+re.reason)
	}
	return nil, newFieldError(key, re.reason)
}

// set decodes one value into the field f names.
func (d *QueryDecoder) set(m protoreflect.Message, f *queryField, key, rawValue string, seen *seenSet) *FieldError {
	if f.reason != "" {
		return newFieldError(key, f.reason)
	}
	value, ok := unescape(rawValue)
	if !ok {
		return newFieldError(key, "malformed percent-encoding in the query parameter value")
	}
	leaf := f.path[len(f.path)-1]
	parent, reason := descend(m, f.path)
	if reason != "" {
		return newFieldError(key, reason)
	}
	if !leaf.IsList() && !seen.add(parent, leaf) {
		return newFieldError(key, "a non-repeated field given more than once")
	}
	if problem := setLeaf(parent, leaf, f.kind, value); problem != "" {
		return valueError(key, problem, value)
	}
	return nil
}

// seenSet records the singular fields set by one Decode, by the message
// holding them. The first few live on the stack.
type seenSet struct {
	n     int
	small [8]seenKey
	more  map[seenKey]struct{}
}

type seenKey struct {
	parent protoreflect.Message
	fd     protoreflect.FieldDescriptor
}

// add records parent's fd; false if it was recorded already.
func (s *seenSet) add(parent protoreflect.Message, fd protoreflect.FieldDescriptor) bool {
	k := seenKey{parent, fd}
	for i := 0; i < s.n; i++ {
		if s.small[i] == k {
			return false
		}
	}
	if _, dup := s.more[k]; dup {
		return false
	}
	if s.n < len(s.small) {
		s.small[s.n] = k
		s.n++
		return true
	}
	if s.more == nil {
		s.more = map[seenKey]struct{}{}
	}
	s.more[k] = struct{}{}
	return true
}
