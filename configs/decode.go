package configs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// MaxFileBytes bounds what Load and ReadFile read: a config is text
// written by people, and a path such as /dev/zero or a pipe that never
// ends must fail instead of growing memory without limit.
const MaxFileBytes = 64 << 20

// Load reads, decodes and validates the config file at path.
func Load(path string) (*Config, error) {
	data, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(data, path)
}

// ReadFile reads the config file at path, refusing one larger than
// MaxFileBytes.
func ReadFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	tooLarge := fmt.Errorf("config: %s is larger than %d MiB", path, MaxFileBytes>>20)
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() > MaxFileBytes {
		return nil, tooLarge
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if len(data) > MaxFileBytes {
		return nil, tooLarge // a device or pipe
	}
	return data, nil
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
		if e.Path == "" || path == "" || within(path, e.Path) || within(e.Path, path) {
			return true
		}
	}
	return false
}

// within reports whether path is base or under it: "routes[1].x" is
// within "routes[1]", "routes[10]" is not.
func within(path, base string) bool {
	rest, ok := strings.CutPrefix(path, base)
	return ok && (rest == "" || rest[0] == '.' || rest[0] == '[')
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
// YAML does not parse or its aliases expand too far; keys that failed to
// decode are left at defaults. Tools that want to report more problems at
// once use it.
func DecodePartial(data []byte, file string) (*Config, Errors) { return decode(data, file) }

// decode returns the config (nil when the YAML does not parse) and the
// problems found while decoding it.
func decode(data []byte, file string) (*Config, Errors) {
	cfg := &Config{File: file, Raw: data, pos: map[string]int{}}
	d := &decoder{sink: errorSink{file: file, pos: cfg.pos}}
	d.setDefaults(reflect.ValueOf(cfg).Elem())
	doc, second, err := oneDocument(data)
	if err != nil {
		d.sink.addAt(yamlErrorLine(err), "", "%s", yamlErrorMsg(err))
		return nil, d.sink.errs
	}
	if second > 0 {
		d.sink.addAt(second, "", "a second YAML document starts here (after ---): a config file holds one")
	}
	if doc != nil {
		d.aliasLimit = max(minAliasValues, countNodes(doc))
		d.decode(doc, reflect.ValueOf(cfg).Elem(), "")
	}
	if d.stopped {
		return nil, d.sink.errs // half decoded: validating it would only add noise
	}
	tlsProtocols(cfg)
	return cfg, d.sink.errs
}

// tlsProtocols gives a TLS listener that lists no protocols the TLS
// default, http1 and h2 (the tag's http1 and h2c are plain TCP's).
func tlsProtocols(cfg *Config) {
	for i := range cfg.Listeners {
		l := &cfg.Listeners[i]
		if _, set := cfg.pos[fmt.Sprintf("listeners[%d].protocols", i)]; l.TLS != nil && !set {
			l.Protocols = []string{"http1", "h2"}
		}
	}
}

// oneDocument parses the first YAML document of data: nil when there is
// none or it is empty. second is the line where a second document starts
// (0 when there is none): a config file is one document, and the rest
// would otherwise be ignored without a word.
func oneDocument(data []byte) (doc *yaml.Node, second int, err error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var first, next yaml.Node
	if err := dec.Decode(&first); errors.Is(err, io.EOF) {
		return nil, 0, nil
	} else if err != nil {
		return nil, 0, err
	}
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, 0, err
	case len(next.Content) > 0 && !isNull(next.Content[0]):
		second = next.Content[0].Line
	}
	if len(first.Content) == 0 || isNull(first.Content[0]) {
		return nil, second, nil
	}
	return first.Content[0], second, nil
}

// minAliasValues is how many values aliases may add to a document,
// whatever its size. Past it and past the document's own size, decoding
// stops: a few lines of aliases of aliases would otherwise expand into
// billions of values (the "billion laughs").
const minAliasValues = 10000

// countNodes counts the nodes of the document as written, not following
// aliases.
func countNodes(n *yaml.Node) int {
	c := 1
	for _, k := range n.Content {
		c += countNodes(k)
	}
	return c
}

type decoder struct {
	sink errorSink
	// aliasValues counts the values decoded through aliases; past
	// aliasLimit (0: no alias is expected, in default tags) decoding stops.
	aliasDepth, aliasValues, aliasLimit int
	stopped                             bool
}

var (
	durationType = reflect.TypeOf(Duration(0))
	sizeType     = reflect.TypeOf(Size(0))
	endpointType = reflect.TypeOf(Endpoint{})
)

// decode stores node into v (addressable), reporting problems under path.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if d.stopped {
		return
	}
	if path != "" {
		// An alias is located where it is used, not at its anchor.
		d.sink.pos[path] = n.Line
	}
	if n.Kind == yaml.AliasNode {
		d.aliasDepth++
		defer func() { d.aliasDepth-- }()
		n = n.Alias
	}
	if d.aliasDepth > 0 {
		if d.aliasValues++; d.aliasValues > d.aliasLimit {
			d.stopped = true
			d.sink.addAt(lineOf(d.sink.pos, path), path, "aliases expand to more than %d values; decoding stopped (write the values out, or use fewer aliases of aliases)", d.aliasLimit)
			return
		}
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
		if !d.plainKey(k, path) {
			continue
		}
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
		if !d.plainKey(k, path) {
			continue
		}
		if k.Value == "" {
			d.sink.addAt(k.Line, path, "a name (map key) must not be empty")
			continue
		}
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

// plainKey reports whether k, a key of the map at path, is a plain
// string, and reports it when not. YAML allows lists, maps, null and
// numbers as keys, and merge keys (<<) that splice in other maps; none
// of them names anything in a config.
func (d *decoder) plainKey(k *yaml.Node, path string) bool {
	switch {
	case k.Kind == yaml.AliasNode:
		d.sink.addAt(k.Line, path, "map key *%s is an alias; write the key out", k.Value)
	case k.Kind != yaml.ScalarNode:
		d.sink.addAt(k.Line, path, "a map key must be a plain string, not %s", describe(k))
	case k.ShortTag() == "!!merge":
		d.sink.addAt(k.Line, path, "merge keys (<<) are not supported: write the keys out, or make the whole value an alias (*name)")
	case k.ShortTag() != "!!str":
		d.sink.addAt(k.Line, path, "map key %s is read as %s, not a string: quote it (\"%s\")", k.Value, strings.TrimPrefix(k.ShortTag(), "!!"), k.Value)
	default:
		return true
	}
	return false
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
