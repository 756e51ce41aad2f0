package aggregate

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// source says where a placeholder's value comes from.
type source uint8

const (
	srcPath source = iota
	srcQuery
	srcHeader
	srcConsumer
	srcSubject
	srcMethod
	srcClaims
	srcMetadata
	srcCallStatus
	srcCallBody
	srcCallHeader
)

// ref is a compiled placeholder.
type ref struct {
	src  source
	key  string   // route variable, query name, canonical header, metadata key
	path []string // claim or body field path
	call int      // calls.*: index of the call read
	text string   // as written, without braces, for messages
}

// part is a literal or a placeholder of a template.
type part struct {
	lit    string
	ref    *ref
	quoted bool // Body: the placeholder is inside a JSON string
}

// template is a compiled Path, Query value, Header value or Body.
type template struct {
	parts []part
}

// refs returns the template's placeholders.
func (t template) refs() []*ref {
	var out []*ref
	for _, p := range t.parts {
		if p.ref != nil {
			out = append(out, p.ref)
		}
	}
	return out
}

// parseText compiles a Path, Query or Header template: every '{' starts a
// placeholder that ends at the next '}'.
func parseText(s string, calls map[string]int) (template, error) {
	var t template
	lit := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '}':
			return t, fmt.Errorf("position %d: '}' without '{'", i)
		case '{':
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return t, fmt.Errorf("position %d: '{' without '}'", i)
			}
			r, err := parseRef(s[i+1:i+end], calls)
			if err != nil {
				return t, fmt.Errorf("position %d: %w", i, err)
			}
			t.add(s[lit:i], part{ref: r})
			i += end
			lit = i + 1
		}
	}
	t.add(s[lit:], part{})
	return t, nil
}

// parseJSON compiles a Body template. Outside JSON strings a '{' followed
// by a letter starts a placeholder (a JSON object opens with '"', '}' or
// space); inside strings a '{' followed by a source name and a dot does.
func parseJSON(s string, calls map[string]int) (template, error) {
	var t template
	lit, inString := 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case c == '{' && !inString && i+1 < len(s) && isLetter(s[i+1]),
			c == '{' && inString && startsRef(s[i+1:]):
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return t, fmt.Errorf("position %d: '{' without '}'", i)
			}
			r, err := parseRef(s[i+1:i+end], calls)
			if err != nil {
				return t, fmt.Errorf("position %d: %w", i, err)
			}
			t.add(s[lit:i], part{ref: r, quoted: inString})
			i += end
			lit = i + 1
		}
	}
	t.add(s[lit:], part{})
	return t, nil
}

// add appends the literal before a placeholder, then p unless it is empty.
func (t *template) add(lit string, p part) {
	if lit != "" {
		t.parts = append(t.parts, part{lit: lit})
	}
	if p.ref != nil {
		t.parts = append(t.parts, p)
	}
}

// startsRef reports whether s begins like a placeholder name: letters and
// a dot ("query.", "calls.").
func startsRef(s string) bool {
	i := 0
	for i < len(s) && isLetter(s[i]) {
		i++
	}
	return i > 0 && i < len(s) && s[i] == '.'
}

func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

var errEmptyName = errors.New("empty name")

// parseRef compiles the text between braces.
func parseRef(text string, calls map[string]int) (*ref, error) {
	for i := 0; i < len(text); i++ {
		if c := text[i]; !isLetter(c) && (c < '0' || c > '9') && c != '_' && c != '-' && c != '.' {
			return nil, fmt.Errorf("placeholder {%s}: character %q not allowed", text, c)
		}
	}
	src, rest, _ := strings.Cut(text, ".")
	r := &ref{text: text, key: rest}
	var err error
	switch src {
	case "path", "query":
		r.src = srcQuery
		if src == "path" {
			r.src = srcPath
		}
		if rest == "" {
			err = errEmptyName
		}
	case "header":
		r.src, r.key = srcHeader, http.CanonicalHeaderKey(rest)
		if !httpguts.ValidHeaderFieldName(rest) {
			err = fmt.Errorf("bad header name %q", rest)
		}
	case "identity":
		err = r.parseIdentity(rest)
	case "calls":
		err = r.parseCall(rest, calls)
	default:
		err = fmt.Errorf("unknown source %q (want path, query, header, identity or calls)", src)
	}
	if err != nil {
		return nil, fmt.Errorf("placeholder {%s}: %w", text, err)
	}
	return r, nil
}

func (r *ref) parseIdentity(rest string) error {
	field, sub, _ := strings.Cut(rest, ".")
	switch field {
	case "consumer", "subject", "method":
		if sub != "" {
			return fmt.Errorf("identity.%s has no fields", field)
		}
		r.src = map[string]source{"consumer": srcConsumer, "subject": srcSubject, "method": srcMethod}[field]
		return nil
	case "claims":
		r.src, r.path = srcClaims, splitPath(sub)
		return checkPath(r.path)
	case "metadata":
		r.src, r.key = srcMetadata, sub
		if sub == "" {
			return errEmptyName
		}
		return nil
	}
	return fmt.Errorf("unknown identity field %q (want consumer, subject, method, claims or metadata)", field)
}

func (r *ref) parseCall(rest string, calls map[string]int) error {
	name, rest, _ := strings.Cut(rest, ".")
	idx, ok := calls[name]
	if !ok {
		return fmt.Errorf("no call named %q", name)
	}
	r.call = idx
	field, sub, _ := strings.Cut(rest, ".")
	switch field {
	case "status":
		r.src = srcCallStatus
		if sub != "" {
			return errors.New("status has no fields")
		}
	case "body":
		r.src, r.path = srcCallBody, splitPath(sub)
		if sub != "" {
			return checkPath(r.path)
		}
	case "header":
		r.src, r.key = srcCallHeader, http.CanonicalHeaderKey(sub)
		if !httpguts.ValidHeaderFieldName(sub) {
			return fmt.Errorf("bad header name %q", sub)
		}
	default:
		return fmt.Errorf("unknown call field %q (want status, body or header)", field)
	}
	return nil
}

func splitPath(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ".")
}

func checkPath(p []string) error {
	if len(p) == 0 {
		return errEmptyName
	}
	for _, seg := range p {
		if seg == "" {
			return errors.New("empty field name")
		}
	}
	return nil
}

// checkPathLiterals requires Path to start with '/' and its literal text
// to be an escaped path: no spaces, controls, '?' or '#', and '%' only
// before two hex digits.
func checkPathLiterals(s string, t template) error {
	if !strings.HasPrefix(s, "/") {
		return errors.New("must start with '/'")
	}
	pos := 0
	for _, p := range t.parts {
		if p.ref != nil {
			pos += len(p.ref.text) + 2
			continue
		}
		for i := 0; i < len(p.lit); i++ {
			c := p.lit[i]
			switch {
			case c <= ' ' || c == 0x7f || c == '?' || c == '#':
				return fmt.Errorf("position %d: character %q not allowed (query parameters go in query)", pos+i, c)
			case c == '%' && (i+2 >= len(p.lit) || !isHex(p.lit[i+1]) || !isHex(p.lit[i+2])):
				return fmt.Errorf("position %d: bad escape", pos+i)
			}
		}
		pos += len(p.lit)
	}
	return nil
}

func isHex(c byte) bool {
	_, err := strconv.ParseUint(string(c), 16, 8)
	return err == nil
}
