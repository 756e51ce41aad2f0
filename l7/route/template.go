package route

import (
	"errors"
	"fmt"
	"strings"
)

// segKind is what one segment of a path template matches.
type segKind uint8

const (
	segLiteral segKind = iota // exactly its text
	segOne                    // one non-empty segment: *, {name}, {name=*}
	segRest                   // the rest of the path, zero or more segments: **, {name=**}
)

// segment is one compiled segment of a path template.
type segment struct {
	kind segKind
	text string // the literal, for segLiteral
}

// template is a compiled path template such as /v1/{id}/items/**.
type template struct {
	segs    []segment
	literal string // the leading literal part every matching path starts with
	vars    bool   // false: the template is one literal path
	first   int    // index of the first variable segment; len(segs) without
}

// parseTemplate compiles a template: "/" then segments separated by "/",
// each a literal, "*" or "{name}" or "{name=*}" (one non-empty segment),
// or "**" or "{name=**}" (the rest of the path, last segment only). Literal
// segments must be in the normal form of NormalizePath, since requests
// are matched after it.
func parseTemplate(s string) (*template, error) {
	if !strings.HasPrefix(s, "/") {
		return nil, errors.New("must start with /")
	}
	parts := strings.Split(s[1:], "/")
	t := &template{segs: make([]segment, 0, len(parts))}
	names := map[string]bool{}
	for i, p := range parts {
		seg, err := parseSegment(p, names)
		if err != nil {
			return nil, fmt.Errorf("segment %d %q: %w", i+1, p, err)
		}
		if seg.kind == segRest && i != len(parts)-1 {
			return nil, fmt.Errorf("segment %d %q: ** must be the last segment", i+1, p)
		}
		if seg.kind == segLiteral && p == "" && i != len(parts)-1 {
			return nil, fmt.Errorf("segment %d is empty (//)", i+1)
		}
		if seg.kind != segLiteral && !t.vars {
			t.vars, t.first = true, i
		}
		t.segs = append(t.segs, seg)
	}
	if !t.vars {
		t.first = len(t.segs)
	}
	t.literal = t.leadingLiteral()
	return t, nil
}

// parseSegment compiles one segment; names collects variable names to
// reject duplicates.
func parseSegment(p string, names map[string]bool) (segment, error) {
	switch {
	case p == "*":
		return segment{kind: segOne}, nil
	case p == "**":
		return segment{kind: segRest}, nil
	case strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}"):
		name, pat, hasPat := strings.Cut(p[1:len(p)-1], "=")
		if !validVarName(name) {
			return segment{}, fmt.Errorf("bad variable name %q: use letters, digits, _ and .", name)
		}
		if names[name] {
			return segment{}, fmt.Errorf("variable %q appears twice", name)
		}
		names[name] = true
		switch {
		case !hasPat || pat == "*":
			return segment{kind: segOne}, nil
		case pat == "**":
			return segment{kind: segRest}, nil
		}
		return segment{}, fmt.Errorf("unsupported variable pattern %q: use {%s}, {%s=*} or {%s=**}", pat, name, name, name)
	case strings.ContainsAny(p, "{}*"):
		return segment{}, errors.New("a segment is a literal, *, **, {name}, {name=*} or {name=**}")
	case p == "." || p == "..":
		return segment{}, errors.New("dot segments never match a normalized path")
	}
	if n, err := NormalizePath("/" + p); err != nil || n != "/"+p {
		if err != nil {
			return segment{}, fmt.Errorf("literal is not a valid path segment: %w", err)
		}
		return segment{}, fmt.Errorf("literal is not in normal form, write %q", n[1:])
	}
	return segment{kind: segLiteral, text: p}, nil
}

func validVarName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// leadingLiteral is the text every path matching t starts with: the
// literal segments before the first variable, with their slashes. A final
// ** also matches zero segments (/admin/** matches /admin), so the slash
// before it is left out.
func (t *template) leadingLiteral() string {
	var b strings.Builder
	for _, s := range t.segs {
		switch s.kind {
		case segLiteral:
			b.WriteByte('/')
			b.WriteString(s.text)
		case segOne:
			b.WriteByte('/')
			return b.String()
		case segRest:
			if b.Len() == 0 {
				return "/"
			}
			return b.String()
		}
	}
	return b.String()
}

// canonical is the template with variable names dropped: two templates
// with the same canonical form match the same paths.
func (t *template) canonical() string {
	var b strings.Builder
	for _, s := range t.segs {
		b.WriteByte('/')
		switch s.kind {
		case segLiteral:
			b.WriteString(s.text)
		case segOne:
			b.WriteByte('*')
		case segRest:
			b.WriteString("**")
		}
	}
	return b.String()
}

// match reports whether the normalized path p matches t. The literal
// prefix is compared whole, then the segments from the first variable.
// It does not allocate.
func (t *template) match(p string) bool {
	if !t.vars {
		return p == t.literal
	}
	if !strings.HasPrefix(p, t.literal) {
		return false
	}
	rest := p[len(t.literal):]
	if t.segs[t.first].kind == segRest {
		// literal is "/" or has no final slash: /v1/** matches /v1 and /v1/..., not /v10
		return rest == "" || t.literal == "/" || rest[0] == '/'
	}
	ended := false // literal ends with "/": rest starts at the first variable
	for _, s := range t.segs[t.first:] {
		if s.kind == segRest {
			return true
		}
		if ended {
			return false
		}
		var seg string
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			seg, rest = rest[:i], rest[i+1:]
		} else {
			seg, rest, ended = rest, "", true
		}
		if s.kind == segLiteral && seg != s.text || s.kind == segOne && seg == "" {
			return false
		}
	}
	return ended
}
