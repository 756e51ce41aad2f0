package configs

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

var yamlLineRE = regexp.MustCompile(`line (\d+)`)

var sizeRE = regexp.MustCompile(`^([0-9]+)\s*(B|KB|KiB|MB|MiB|GB|GiB)?$`)

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
	case reflect.Float64:
		f, err := strconv.ParseFloat(n.Value, 64)
		if (n.ShortTag() != "!!int" && n.ShortTag() != "!!float") || err != nil {
			d.sink.addAt(n.Line, path, "expected a number, got %q", n.Value)
			return
		}
		v.SetFloat(f)
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
	case reflect.Float64:
		return "number"
	}
	return k.String()
}

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
