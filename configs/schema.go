package configs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// The JSON Schema is generated from the Go types so that it cannot drift
// from them: every struct becomes a strict object under $defs, and tags
// supply descriptions, defaults, enums and required keys. Rules between
// sibling keys that tags cannot express come from keyRules.

const (
	schemaDialect = "https://json-schema.org/draft/2020-12/schema"

	// durationPattern accepts what the decoder accepts: "0", or one or
	// more number+unit pairs as time.ParseDuration reads them, unsigned.
	durationPattern = `^\+?(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$`
	// sizePattern mirrors ParseSize's syntax.
	sizePattern = `^\s*[0-9]+\s*(B|KB|KiB|MB|MiB|GB|GiB)?\s*$`
)

// keyRule constrains which sibling keys of one object may appear together.
type keyRule struct {
	kind ruleKind
	keys []string
}

type ruleKind int

const (
	exactlyOne  ruleKind = iota // exactly one of keys
	atMostOne                   // zero or one of keys
	urlOrFields                 // keys[0] alone, or at least one of the rest
	allOrNone                   // every one of keys, or none
	atLeastOne                  // one or more of keys
)

// keyRules returns the combination rules of struct type t, as the type
// comments in types.go and Validate state them.
func keyRules(t reflect.Type) []keyRule {
	switch t {
	case reflect.TypeFor[Route]():
		return []keyRule{{exactlyOne, []string{"proxy", "transcode", "redirect", "respond", "aggregate"}}}
	case reflect.TypeFor[L4Route]():
		return []keyRule{{exactlyOne, []string{"tcp", "passthrough", "terminate", "udp"}}}
	case reflect.TypeFor[HTTPBinding]():
		return []keyRule{{exactlyOne, []string{"get", "put", "post", "delete", "patch", "custom"}}}
	case reflect.TypeFor[Match]():
		return []keyRule{{atMostOne, []string{"path", "prefix", "template", "regex"}}}
	case reflect.TypeFor[ValueMatch]():
		return []keyRule{{atMostOne, []string{"value", "regex"}}}
	case reflect.TypeFor[Rewrite]():
		return []keyRule{{exactlyOne, []string{"strip_prefix", "path", "regex"}}}
	case reflect.TypeFor[HashOn]():
		return []keyRule{{exactlyOne, []string{"header", "cookie", "client_ip", "sni"}}}
	case reflect.TypeFor[RedirectAction]():
		return []keyRule{{urlOrFields, []string{"url", "scheme", "host", "path"}}}
	case reflect.TypeFor[ListenerTLS]():
		return []keyRule{{allOrNone, []string{"cert_file", "key_file"}}, {atLeastOne, []string{"cert_file", "certificates", "acme", "local_ca"}}}
	case reflect.TypeFor[UpstreamTLS]():
		return []keyRule{{allOrNone, []string{"cert_file", "key_file"}}}
	case reflect.TypeFor[Policy]():
		return []keyRule{{exactlyOne, []string{"jwt", "api_key", "basic_auth", "mtls", "introspection", "ext_authz", "anonymous",
			"authorize", "rate_limit", "cache", "compress", "cors", "ip_filter", "body_limit", "headers"}}}
	case reflect.TypeFor[TokenSource](), reflect.TypeFor[TokenPlace]():
		return []keyRule{{exactlyOne, []string{"header", "cookie", "query"}}}
	case reflect.TypeFor[SplitRule]():
		return []keyRule{{exactlyOne, []string{"header", "cookie"}}, {atMostOne, []string{"value", "regex"}}}
	case reflect.TypeFor[AggregateCall]():
		return []keyRule{{exactlyOne, []string{"upstream", "route"}}}
	case reflect.TypeFor[OnDemand]():
		return []keyRule{{atLeastOne, []string{"allow", "ask"}}}
	}
	return nil
}

// text says the rule in English, with keys in code spans.
func (r keyRule) text() string {
	quoted := make([]string, len(r.keys))
	for i, k := range r.keys {
		quoted[i] = "`" + k + "`"
	}
	switch r.kind {
	case exactlyOne:
		return "Exactly one of " + strings.Join(quoted, ", ") + " must be set."
	case atMostOne:
		return "At most one of " + strings.Join(quoted, ", ") + " may be set."
	case allOrNone:
		return strings.Join(quoted, " and ") + " go together."
	case atLeastOne:
		return "At least one of " + strings.Join(quoted, ", ") + " must be set."
	default:
		return "Set " + quoted[0] + " alone, or at least one of " + strings.Join(quoted[1:], ", ") + "."
	}
}

// schema returns the rule as JSON Schema keywords on the object.
func (r keyRule) schema() jsonObject {
	req := func(keys ...string) jsonObject { return jsonObject{}.add("required", keys) }
	var o jsonObject
	switch r.kind {
	case exactlyOne:
		var alts []any
		for _, k := range r.keys {
			alts = append(alts, req(k))
		}
		o = o.add("oneOf", alts)
	case atMostOne:
		var pairs []any
		for i, a := range r.keys {
			for _, b := range r.keys[i+1:] {
				pairs = append(pairs, req(a, b))
			}
		}
		o = o.add("not", jsonObject{}.add("anyOf", pairs))
	case urlOrFields:
		var rest []any
		for _, k := range r.keys[1:] {
			rest = append(rest, req(k))
		}
		o = o.add("oneOf", []any{req(r.keys[0]), jsonObject{}.add("anyOf", rest)})
	case allOrNone:
		dep := jsonObject{}
		for i, k := range r.keys {
			others := append(append([]string{}, r.keys[:i]...), r.keys[i+1:]...)
			dep = dep.add(k, others)
		}
		o = o.add("dependentRequired", dep)
	case atLeastOne:
		var alts []any
		for _, k := range r.keys {
			alts = append(alts, req(k))
		}
		o = o.add("anyOf", alts)
	}
	return o
}

// Schema returns the JSON Schema (draft 2020-12) of a config file,
// indented, with a trailing newline. It is deterministic.
func Schema() ([]byte, error) {
	b := &schemaBuilder{}
	root, err := b.object(reflect.TypeFor[Config]())
	if err != nil {
		return nil, err
	}
	doc := jsonObject{}.
		add("$schema", schemaDialect).
		add("title", "Bouncer configuration").
		add("description", "A Bouncer config file. Reference: docs/config.md.")
	doc = append(doc, root...)
	doc = doc.add("$defs", b.defs)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("configs: encode schema: %w", err)
	}
	return buf.Bytes(), nil
}

// schemaBuilder collects one $defs entry per struct type.
type schemaBuilder struct {
	defs jsonObject
	seen map[reflect.Type]bool
}

// ref returns a $ref to t's definition, building it on first use.
func (b *schemaBuilder) ref(t reflect.Type) (jsonObject, error) {
	if b.seen == nil {
		b.seen = map[reflect.Type]bool{}
	}
	if !b.seen[t] {
		b.seen[t] = true
		i := len(b.defs)
		b.defs = b.defs.add(t.Name(), nil) // reserve the slot: defs keep first-use order
		def, err := b.object(t)
		if err != nil {
			return nil, err
		}
		b.defs[i].val = def
	}
	return jsonObject{}.add("$ref", "#/$defs/"+t.Name()), nil
}

// object builds the strict object schema of struct type t.
func (b *schemaBuilder) object(t reflect.Type) (jsonObject, error) {
	var props jsonObject
	var required []string
	for _, f := range docFields(t) {
		p, err := b.property(t, f)
		if err != nil {
			return nil, err
		}
		props = props.add(f.Key, p)
		if f.Required {
			required = append(required, f.Key)
		}
	}
	o := jsonObject{}.add("type", "object")
	rules := keyRules(t)
	if len(rules) > 0 {
		texts := make([]string, len(rules))
		for i, r := range rules {
			texts[i] = strings.ReplaceAll(r.text(), "`", "")
		}
		o = o.add("description", strings.Join(texts, " "))
	}
	o = o.add("additionalProperties", false).add("properties", props)
	if len(required) > 0 {
		o = o.add("required", required)
	}
	switch len(rules) {
	case 0:
	case 1:
		o = append(o, rules[0].schema()...)
	default:
		var all []any
		for _, r := range rules {
			all = append(all, r.schema())
		}
		o = o.add("allOf", all)
	}
	return o, nil
}

// property builds the schema of one key: its type plus tag annotations.
func (b *schemaBuilder) property(owner reflect.Type, f docField) (jsonObject, error) {
	s, err := b.typeSchema(f.Type)
	if err != nil {
		return nil, err
	}
	if owner == reflect.TypeFor[HealthCheck]() && f.Key == "expected_statuses" {
		// Plain 200 in YAML is an integer; the decoder reads it as "200".
		s = jsonObject{}.add("type", "array").add("items", jsonObject{}.
			add("type", []string{"string", "integer"}).
			add("pattern", `^[0-9]{3}(-[0-9]{3})?$`).
			add("minimum", 100).add("maximum", 599))
	}
	if f.Doc == "" {
		return nil, fmt.Errorf("configs: %s.%s has no doc tag", owner.Name(), f.goName)
	}
	s = append(jsonObject{}.add("description", f.Doc), s...)
	if f.Default != "" {
		v, err := defaultValue(f)
		if err != nil {
			return nil, fmt.Errorf("configs: %s.%s: %w", owner.Name(), f.goName, err)
		}
		s = s.add("default", v)
	}
	if len(f.Enum) > 0 {
		s = withEnum(s, f)
	}
	return s, nil
}

// withEnum adds f's enum to s, or to s's items for a slice. A value that
// looks like a number (502) is allowed both quoted and plain, as the
// decoder reads either into a string.
func withEnum(s jsonObject, f docField) jsonObject {
	var vals []any
	for _, e := range f.Enum {
		vals = append(vals, e)
	}
	for _, e := range f.Enum {
		if n, err := strconv.Atoi(e); err == nil {
			vals = append(vals, n)
		}
	}
	if f.Type.Kind() != reflect.Slice {
		return s.set("type", enumTypes(vals)).add("enum", vals)
	}
	items, _ := s.get("items").(jsonObject)
	return s.set("items", items.set("type", enumTypes(vals)).add("enum", vals))
}

func enumTypes(vals []any) any {
	for _, v := range vals {
		if _, ok := v.(int); ok {
			return []string{"string", "integer"}
		}
	}
	return "string"
}

// typeSchema maps a Go type to its schema, without annotations.
func (b *schemaBuilder) typeSchema(t reflect.Type) (jsonObject, error) {
	switch t {
	case reflect.TypeFor[Duration]():
		return jsonObject{}.add("anyOf", []any{
			jsonObject{}.add("type", "string").add("pattern", durationPattern),
			jsonObject{}.add("const", 0),
		}), nil
	case reflect.TypeFor[Size]():
		return jsonObject{}.add("type", []string{"integer", "string"}).
			add("minimum", 0).add("pattern", sizePattern), nil
	case reflect.TypeFor[Endpoint]():
		ref, err := b.ref(t)
		if err != nil {
			return nil, err
		}
		str := jsonObject{}.add("type", "string").add("description", "host:port, with weight 1.")
		return jsonObject{}.add("oneOf", []any{str, ref}), nil
	}
	switch t.Kind() {
	case reflect.Pointer:
		return b.typeSchema(t.Elem())
	case reflect.Struct:
		return b.ref(t)
	case reflect.Slice:
		items, err := b.typeSchema(t.Elem())
		if err != nil {
			return nil, err
		}
		return jsonObject{}.add("type", "array").add("items", items), nil
	case reflect.Map:
		vals, err := b.typeSchema(t.Elem())
		if err != nil {
			return nil, err
		}
		if t.Elem().Kind() == reflect.String {
			// Header values such as 1 or true are plain scalars in YAML.
			vals = jsonObject{}.add("type", []string{"string", "number", "boolean"})
		}
		return jsonObject{}.add("type", "object").add("additionalProperties", vals), nil
	case reflect.String:
		return jsonObject{}.add("type", "string"), nil
	case reflect.Bool:
		return jsonObject{}.add("type", "boolean"), nil
	case reflect.Int, reflect.Int64:
		return jsonObject{}.add("type", "integer").add("minimum", 0), nil
	case reflect.Float64:
		return jsonObject{}.add("type", "number").add("minimum", 0), nil
	}
	return nil, fmt.Errorf("configs: no schema for Go type %s", t)
}

var sizeSyntax = regexp.MustCompile(sizePattern)

// defaultValue turns f's default tag into the JSON value the schema shows.
func defaultValue(f docField) (any, error) {
	text := f.Default
	switch {
	case f.Type == reflect.TypeFor[Duration]():
		return text, nil
	case f.Type == reflect.TypeFor[Size]():
		if n, err := strconv.ParseInt(text, 10, 64); err == nil {
			return n, nil
		}
		if !sizeSyntax.MatchString(text) {
			return nil, fmt.Errorf("default %q is not a size", text)
		}
		return text, nil
	}
	switch f.Type.Kind() {
	case reflect.String:
		return text, nil
	case reflect.Bool:
		return strconv.ParseBool(text)
	case reflect.Int, reflect.Int64:
		return strconv.ParseInt(text, 10, 64)
	case reflect.Float64:
		return strconv.ParseFloat(text, 64)
	case reflect.Slice:
		var list []string
		if err := yaml.Unmarshal([]byte(text), &list); err != nil {
			return nil, fmt.Errorf("default %q is not a list: %w", text, err)
		}
		return list, nil
	}
	return nil, fmt.Errorf("default %q on unsupported type %s", text, f.Type)
}

// jsonObject is a JSON object that keeps its members in insertion order,
// so the schema reads in the order of the Go types.
type jsonObject []jsonMember

type jsonMember struct {
	key string
	val any
}

// add appends a member; it does not check for duplicates.
func (o jsonObject) add(key string, val any) jsonObject {
	return append(o, jsonMember{key, val})
}

// set replaces the member key in place, or appends it.
func (o jsonObject) set(key string, val any) jsonObject {
	for i := range o {
		if o[i].key == key {
			o[i].val = val
			return o
		}
	}
	return o.add(key, val)
}

func (o jsonObject) get(key string) any {
	for _, m := range o {
		if m.key == key {
			return m.val
		}
	}
	return nil
}

// MarshalJSON writes the members in order, without HTML escaping.
func (o jsonObject) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	buf.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			buf.WriteByte(',')
		}
		if err := enc.Encode(m.key); err != nil {
			return nil, err
		}
		buf.WriteByte(':')
		if err := enc.Encode(m.val); err != nil {
			return nil, err
		}
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}
