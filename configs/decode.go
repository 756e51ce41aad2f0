package configs

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

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

func (d *decoder) decodeScalar(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode || isNull(n) {
		d.sink.addAt(n.Line, path, "expected a %s, got %s", kindName(v.Kind()), describe(n))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(n.Value)
	case reflect.Bool:
		b, err := strconv.ParseBool(n.Value)
		if n.ShortTag() != "!!bool" || err != nil {
			d.sink.addAt(n.Line, path, "expected true or false, got %q", n.Value)
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		i, err := strconv.ParseInt(n.Value, 10, 64)
		if n.ShortTag() != "!!int" || err != nil {
			d.sink.addAt(n.Line, path, "expected an integer, got %q", n.Value)
			return
		}
		v.SetInt(i)
	default:
		d.sink.addAt(n.Line, path, "unsupported field kind %s", v.Kind())
	}
}

func (d *decoder) decodeDuration(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode || isNull(n) {
		d.sink.addAt(n.Line, path, "expected a duration such as \"5s\", got %s", describe(n))
		return
	}
	if n.Value == "0" {
		v.SetInt(0)
		return
	}
	dur, err := time.ParseDuration(n.Value)
	if err != nil {
		d.sink.addAt(n.Line, path, "bad duration %q: use a number with a unit, such as 300ms, 5s or 1m30s", n.Value)
		return
	}
	if dur < 0 {
		d.sink.addAt(n.Line, path, "duration %q is negative", n.Value)
		return
	}
	v.SetInt(int64(dur))
}

func (d *decoder) decodeSize(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode || isNull(n) {
		d.sink.addAt(n.Line, path, "expected a size such as 65536 or \"64KiB\", got %s", describe(n))
		return
	}
	sz, err := ParseSize(n.Value)
	if err != nil {
		d.sink.addAt(n.Line, path, "%v", err)
		return
	}
	v.SetInt(int64(sz))
}

var sizeRE = regexp.MustCompile(`^([0-9]+)\s*(B|KB|KiB|MB|MiB|GB|GiB)?$`)

// ParseSize reads a byte count: 1024, "512B", "64KiB", "1MB", "2GiB".
func ParseSize(s string) (Size, error) {
	m := sizeRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("bad size %q: use bytes or a number with B, KB, KiB, MB, MiB, GB or GiB", s)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bad size %q: %w", s, err)
	}
	mult := map[string]int64{"": 1, "B": 1, "KB": 1000, "KiB": 1 << 10, "MB": 1000 * 1000,
		"MiB": 1 << 20, "GB": 1000 * 1000 * 1000, "GiB": 1 << 30}[m[2]]
	if n > (1<<62)/mult {
		return 0, fmt.Errorf("bad size %q: too large", s)
	}
	return Size(n * mult), nil
}

// checkEnum reports a string (or each string of a slice) not in the field's enum tag.
func (d *decoder) checkEnum(f reflect.StructField, v reflect.Value, path string, line int) {
	enum := f.Tag.Get("enum")
	if enum == "" {
		return
	}
	allowed := strings.Split(enum, ",")
	check := func(s, p string) {
		for _, a := range allowed {
			if s == a {
				return
			}
		}
		d.sink.addAt(lineOf(d.sink.pos, p), p, "%q is not one of %s", s, strings.Join(allowed, ", "))
	}
	switch v.Kind() {
	case reflect.String:
		if v.String() != "" {
			check(v.String(), path)
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			check(v.Index(i).String(), fmt.Sprintf("%s[%d]", path, i))
		}
	}
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

// suggest names the known keys, closest first, for an unknown key.
func suggest(key string, fields map[string]int) string {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		di, dj := editDistance(key, keys[i]), editDistance(key, keys[j])
		if di != dj {
			return di < dj
		}
		return keys[i] < keys[j]
	})
	if len(keys) > 0 && editDistance(key, keys[0]) <= 2 {
		return fmt.Sprintf(" (did you mean %q?)", keys[0])
	}
	sort.Strings(keys)
	return " (known keys: " + strings.Join(keys, ", ") + ")"
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
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

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a map"
	case yaml.SequenceNode:
		return "a list"
	}
	if isNull(n) {
		return "nothing (null)"
	}
	return fmt.Sprintf("%q", n.Value)
}

func kindName(k reflect.Kind) string {
	switch k {
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int64:
		return "integer"
	}
	return k.String()
}

var yamlLineRE = regexp.MustCompile(`line (\d+)`)

func yamlErrorLine(err error) int {
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n
	}
	return 0
}

func yamlErrorMsg(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = yamlLineRE.ReplaceAllString(msg, "")
	msg = strings.TrimLeft(msg, ": ")
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msg = strings.Join(te.Errors, "; ")
	}
	return "invalid YAML: " + msg
}
