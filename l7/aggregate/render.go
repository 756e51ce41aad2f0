package aggregate

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/bouncer-proxy/bouncer/l7"
)

// reqValues are the client-side values placeholders read. They are
// gathered before any call starts, so call goroutines only read them.
type reqValues struct {
	r        *http.Request
	query    url.Values
	pathVars map[string]string // nil: use r.PathValue
	id       *l7.Identity
}

// errMissing fails a call whose template reads an absent calls.* value.
var errMissing = errors.New("no such value")

// value returns a placeholder's value; ok is false when it is absent.
// results are the finished dependencies' results (read only).
func (v *reqValues) value(r *ref, results []*result) (val any, ok bool, err error) {
	switch r.src {
	case srcPath:
		s := ""
		if v.pathVars != nil {
			s = v.pathVars[r.key]
		} else {
			s = v.r.PathValue(r.key)
		}
		return s, s != "", nil
	case srcQuery:
		vs, ok := v.query[r.key]
		return first(vs), ok, nil
	case srcHeader:
		vs, ok := v.r.Header[r.key]
		return first(vs), ok, nil
	case srcCallStatus, srcCallBody, srcCallHeader:
		val, ok = callValue(r, results[r.call])
		if !ok {
			return nil, false, fmt.Errorf("{%s}: %w", r.text, errMissing)
		}
		return val, true, nil
	}
	return identityValue(r, v.id)
}

func identityValue(r *ref, id *l7.Identity) (any, bool, error) {
	if id == nil {
		return nil, false, nil
	}
	var s string
	switch r.src {
	case srcConsumer:
		s = id.Consumer
	case srcSubject:
		s = id.Subject
	case srcMethod:
		s = id.Method
	case srcMetadata:
		s = id.Metadata[r.key]
	case srcClaims:
		val, ok := walk(map[string]any(id.Claims), r.path)
		return val, ok, nil
	}
	return s, s != "", nil
}

func callValue(r *ref, res *result) (any, bool) {
	switch r.src {
	case srcCallStatus:
		return res.status, true
	case srcCallHeader:
		vs, ok := res.header[r.key]
		return first(vs), ok
	}
	return walk(res.value, r.path)
}

func first(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

// walk follows path through decoded JSON: object fields by name, array
// elements by decimal index.
func walk(v any, path []string) (any, bool) {
	for _, seg := range path {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[seg]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// text is a value as plain text: strings as they are, other JSON values
// in their JSON form, absent or null as "".
func text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return string(x)
	case int:
		return strconv.Itoa(x)
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// renderPath renders a Path, path-escaping values.
func (v *reqValues) renderPath(t template, results []*result) (string, error) {
	var b strings.Builder
	for _, p := range t.parts {
		if p.ref == nil {
			b.WriteString(p.lit)
			continue
		}
		val, _, err := v.value(p.ref, results)
		if err != nil {
			return "", err
		}
		s := text(val)
		if s == "." || s == ".." {
			return "", fmt.Errorf("{%s}: path value %q not allowed", p.ref.text, s)
		}
		b.WriteString(url.PathEscape(s))
	}
	return b.String(), nil
}

// renderText renders a Query or Header value unescaped.
func (v *reqValues) renderText(t template, results []*result) (string, error) {
	if len(t.parts) == 1 && t.parts[0].ref == nil {
		return t.parts[0].lit, nil
	}
	var b strings.Builder
	for _, p := range t.parts {
		if p.ref == nil {
			b.WriteString(p.lit)
			continue
		}
		val, _, err := v.value(p.ref, results)
		if err != nil {
			return "", err
		}
		b.WriteString(text(val))
	}
	return b.String(), nil
}

// renderBody renders a Body: values JSON-encoded outside strings, escaped
// as string content inside them.
func (v *reqValues) renderBody(t template, results []*result) ([]byte, error) {
	var b []byte
	for _, p := range t.parts {
		if p.ref == nil {
			b = append(b, p.lit...)
			continue
		}
		val, ok, err := v.value(p.ref, results)
		switch {
		case err != nil:
			return nil, err
		case p.quoted:
			b = appendEscaped(b, text(val))
		case !ok:
			b = append(b, "null"...)
		default:
			b = appendJSON(b, val)
		}
	}
	return b, nil
}

func appendJSON(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case string:
		b = append(b, '"')
		return append(appendEscaped(b, x), '"')
	case json.Number, int, bool, float64:
		return append(b, text(x)...)
	}
	enc, err := json.Marshal(v)
	if err != nil {
		return append(b, "null"...)
	}
	return append(b, enc...)
}

// appendEscaped appends s escaped as JSON string content (RFC 8259 §7):
// quote, backslash and controls escaped, invalid UTF-8 replaced.
func appendEscaped(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				b = append(b, `\ufffd`...)
			} else {
				b = append(b, s[i:i+n]...)
			}
			i += n
			continue
		}
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
		i++
	}
	return b
}

// headerValue drops control characters other than tab, which no header
// value may hold (RFC 9110 §5.5), so a value cannot split a header.
func headerValue(s string) string {
	if !strings.ContainsFunc(s, isCTL) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if isCTL(r) {
			return -1
		}
		return r
	}, s)
}

func isCTL(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }
