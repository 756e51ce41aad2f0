package configs

import (
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Load reads, decodes and validates the config file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(data, path)
}

// Parse decodes data strictly (unknown keys, wrong types and bad values are
// errors), applies defaults and validates. file names the source in errors.
// On error it returns Errors listing every problem found.
func Parse(data []byte, file string) (*Config, error) {
	cfg, decodeErrs := decode(data, file)
	if cfg == nil {
		return nil, decodeErrs
	}
	var es Errors
	if err := cfg.Validate(); err != nil {
		es = err.(Errors)
	}
	if len(decodeErrs) == 0 {
		if len(es) > 0 {
			return nil, es
		}
		return cfg, nil
	}
	// Report decode errors and the validation errors that do not stem from
	// them (a key that failed to decode also looks missing to Validate).
	all := append(Errors{}, decodeErrs...)
	for _, e := range es {
		if !related(e.Path, decodeErrs) {
			all = append(all, e)
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].Line < all[j].Line })
	return nil, all
}

func related(path string, es Errors) bool {
	for _, e := range es {
		if e.Path == "" || path == "" || strings.HasPrefix(path, e.Path) || strings.HasPrefix(e.Path, path) {
			return true
		}
	}
	return false
}

// Decode decodes data strictly and applies defaults, without Validate.
func Decode(data []byte, file string) (*Config, error) {
	cfg, errs := decode(data, file)
	if len(errs) > 0 {
		return nil, errs
	}
	return cfg, nil
}

// DecodePartial decodes as far as it can: the config is nil only when the
// YAML does not parse; keys that failed to decode are left at defaults.
// Tools that want to report more problems at once use it.
func DecodePartial(data []byte, file string) (*Config, Errors) { return decode(data, file) }

// decode returns the config (nil when the YAML does not parse) and the
// problems found while decoding it.
func decode(data []byte, file string) (*Config, Errors) {
	cfg := &Config{File: file, Raw: data, pos: map[string]int{}}
	d := &decoder{sink: errorSink{file: file, pos: cfg.pos}}
	d.setDefaults(reflect.ValueOf(cfg).Elem())
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		d.sink.addAt(yamlErrorLine(err), "", "%s", yamlErrorMsg(err))
		return nil, d.sink.errs
	}
	if len(doc.Content) > 0 && !isNull(doc.Content[0]) {
		d.decode(doc.Content[0], reflect.ValueOf(cfg).Elem(), "")
	}
	return cfg, d.sink.errs
}

type decoder struct {
	sink errorSink
}

var (
	durationType = reflect.TypeOf(Duration(0))
	sizeType     = reflect.TypeOf(Size(0))
	endpointType = reflect.TypeOf(Endpoint{})
)

// decode stores node into v (addressable), reporting problems under path.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if path != "" {
		d.sink.pos[path] = n.Line
	}
	switch {
	case v.Type() == durationType:
		d.decodeDuration(n, v, path)
	case v.Type() == sizeType:
		d.decodeSize(n, v, path)
	case v.Type() == endpointType && n.Kind == yaml.ScalarNode:
		v.FieldByName("Address").SetString(n.Value)
		v.FieldByName("Weight").SetInt(1)
	case v.Kind() == reflect.Pointer:
		if isNull(n) {
			v.SetZero()
			return
		}
		nv := reflect.New(v.Type().Elem())
		d.setDefaults(nv.Elem())
		d.decode(n, nv.Elem(), path)
		v.Set(nv)
	case v.Kind() == reflect.Struct:
		d.decodeStruct(n, v, path)
	case v.Kind() == reflect.Slice:
		d.decodeSlice(n, v, path)
	case v.Kind() == reflect.Map:
		d.decodeMap(n, v, path)
	default:
		d.decodeScalar(n, v, path)
	}
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.sink.addAt(n.Line, path, "expected a map of keys, got %s", describe(n))
		return
	}
	fields := yamlFields(v.Type())
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		key := k.Value
		kp := joinPath(path, key)
		if seen[key] {
			d.sink.addAt(k.Line, kp, "duplicate key")
			continue
		}
		seen[key] = true
		idx, ok := fields[key]
		if !ok {
			d.sink.addAt(k.Line, kp, "unknown key %q%s", key, suggest(key, fields))
			continue
		}
		d.sink.pos[kp] = k.Line
		f := v.Field(idx)
		d.decode(val, f, kp)
		d.checkEnum(v.Type().Field(idx), f, kp, val.Line)
	}
	for key, idx := range fields {
		if v.Type().Field(idx).Tag.Get("required") == "true" && !seen[key] {
			d.sink.addAt(n.Line, joinPath(path, key), "missing required key")
		}
	}
}

func (d *decoder) decodeSlice(n *yaml.Node, v reflect.Value, path string) {
	if isNull(n) {
		v.SetZero()
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.sink.addAt(n.Line, path, "expected a list, got %s", describe(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		e := s.Index(i)
		d.setDefaults(e)
		d.decode(item, e, fmt.Sprintf("%s[%d]", path, i))
	}
	v.Set(s)
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	if isNull(n) {
		v.SetZero()
		return
	}
	if n.Kind != yaml.MappingNode {
		d.sink.addAt(n.Line, path, "expected a map, got %s", describe(n))
		return
	}
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		kp := joinPath(path, k.Value)
		if m.MapIndex(reflect.ValueOf(k.Value)).IsValid() {
			d.sink.addAt(k.Line, kp, "duplicate key")
			continue
		}
		e := reflect.New(v.Type().Elem()).Elem()
		d.setDefaults(e)
		d.decode(val, e, kp)
		d.sink.pos[kp] = k.Line
		m.SetMapIndex(reflect.ValueOf(k.Value), e)
	}
	v.Set(m)
}

// setDefaults fills v's fields (and nested non-pointer structs) from their default tags.
func (d *decoder) setDefaults(v reflect.Value) {
	if v.Kind() != reflect.Struct {
		return
	}
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		if f.Type.Kind() == reflect.Struct && f.Type != durationType && f.Type != sizeType {
			d.setDefaults(v.Field(i))
			continue
		}
		def, ok := f.Tag.Lookup("default")
		if !ok {
			continue
		}
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(def), &n); err != nil || len(n.Content) == 0 {
			panic(fmt.Sprintf("configs: bad default tag on %s.%s: %q", t.Name(), f.Name, def)) // programming error, caught by tests
		}
		sub := &decoder{sink: errorSink{pos: map[string]int{}}}
		sub.decode(n.Content[0], v.Field(i), f.Name)
		if len(sub.sink.errs) > 0 {
			panic(fmt.Sprintf("configs: bad default tag on %s.%s: %v", t.Name(), f.Name, sub.sink.errs))
		}
	}
}

// yamlFields maps yaml keys to field indexes.
func yamlFields(t reflect.Type) map[string]int {
	m := map[string]int{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if !f.IsExported() || name == "" || name == "-" {
			continue
		}
		m[name] = i
	}
	return m
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}
