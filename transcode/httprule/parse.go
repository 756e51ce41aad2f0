package httprule

import (
	"fmt"
	"strings"
)

// ParseError is the error Parse returns: what is wrong and where.
type ParseError struct {
	Template string // the template as given
	Offset   int    // byte offset of the problem in Template
	Reason   string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("httprule: template %q: at offset %d: %s", e.Template, e.Offset, e.Reason)
}

// Parse parses a google.api.http path template (see the package doc for
// the grammar). The error, a *ParseError, gives the offset and the reason.
func Parse(tmpl string) (*Template, error) {
	p := &parser{src: tmpl, t: &Template{source: tmpl}}
	if err := p.template(); err != nil {
		return nil, err
	}
	p.t.finish()
	return p.t, nil
}

// parser is a recursive-descent parser over src; pos is the next byte.
type parser struct {
	src      string
	pos      int
	t        *Template
	inVar    bool // parsing the segments of a variable
	sawMulti bool // a "**" was parsed: no segment may follow
}

func (p *parser) fail(off int, format string, args ...any) error {
	return &ParseError{Template: p.src, Offset: off, Reason: fmt.Sprintf(format, args...)}
}

func (p *parser) more() bool { return p.pos < len(p.src) }

func (p *parser) peek() byte {
	if p.more() {
		return p.src[p.pos]
	}
	return 0
}

func (p *parser) template() error {
	if !strings.HasPrefix(p.src, "/") {
		return p.fail(0, "a template must start with '/'")
	}
	p.pos = 1
	if p.src == "/" {
		return nil
	}
	if err := p.segments(); err != nil {
		return err
	}
	if p.peek() == ':' {
		p.pos++
		start := p.pos
		verb, err := p.literal()
		if err != nil {
			return err
		}
		if verb == "" {
			return p.fail(start, "empty verb after ':'")
		}
		p.t.verb = verb
	}
	if p.more() {
		return p.fail(p.pos, "unexpected %q", p.peek())
	}
	return nil
}

// segments parses Segment { "/" Segment }.
func (p *parser) segments() error {
	for {
		if err := p.segment(); err != nil {
			return err
		}
		if p.peek() != '/' {
			return nil
		}
		p.pos++
	}
}

func (p *parser) segment() error {
	start := p.pos
	if p.sawMulti {
		return p.fail(start, "'**' must be the last segment")
	}
	switch c := p.peek(); {
	case !p.more() || c == '/' || c == ':' || c == '}':
		return p.fail(start, "empty segment")
	case strings.HasPrefix(p.src[p.pos:], "**"):
		p.pos += 2
		p.sawMulti = true
		p.t.segs = append(p.t.segs, segment{kind: multiSeg})
	case c == '*':
		p.pos++
		p.t.segs = append(p.t.segs, segment{kind: wildSeg})
	case c == '{' && p.inVar:
		return p.fail(start, "nested variable")
	case c == '{':
		if err := p.variable(); err != nil {
			return err
		}
	default:
		lit, err := p.literal()
		if err != nil {
			return err
		}
		if lit == "" {
			return p.fail(start, "%q may not appear in a literal", c)
		}
		p.t.segs = append(p.t.segs, segment{kind: literalSeg, lit: lit})
	}
	return p.segmentEnd(start)
}

// segmentEnd checks that the segment that started at start is followed by
// a separator: '/', ':', the '}' of the variable being parsed, or the end.
func (p *parser) segmentEnd(start int) error {
	switch c := p.peek(); {
	case !p.more() || c == '/' || c == ':' || c == '}' && p.inVar:
		return nil
	case c == '}':
		return p.fail(p.pos, "'}' without a variable to close")
	case c == '{' || p.src[start] == '{':
		return p.fail(p.pos, "a variable must be a whole segment")
	case p.src[start] == '*':
		return p.fail(start, "a wildcard must be a whole segment")
	default:
		return p.fail(p.pos, "%q may not appear in a literal", c)
	}
}

// variable parses "{" FieldPath [ "=" Segments ] "}".
func (p *parser) variable() error {
	open := p.pos
	p.pos++
	fpStart := p.pos
	fp, err := p.fieldPath()
	if err != nil {
		return err
	}
	for _, v := range p.t.vars {
		if v.FieldPath == fp {
			return p.fail(fpStart, "variable %q appears twice", fp)
		}
	}
	first := len(p.t.segs)
	if p.peek() == '=' {
		p.pos++
		p.inVar = true
		err = p.segments()
		p.inVar = false
		if err != nil {
			return err
		}
	} else {
		p.t.segs = append(p.t.segs, segment{kind: wildSeg})
	}
	switch {
	case !p.more():
		return p.fail(open, "variable %q is not closed by '}'", fp)
	case p.peek() != '}':
		return p.fail(p.pos, "expected '}' to close variable %q, found %q", fp, p.peek())
	}
	p.pos++
	last := len(p.t.segs)
	multi := last-first > 1 || p.t.segs[last-1].kind == multiSeg
	p.t.vars = append(p.t.vars, varSpan{Var: Var{FieldPath: fp, Multi: multi}, start: first, end: last})
	return nil
}

// fieldPath parses IDENT { "." IDENT }.
func (p *parser) fieldPath() (string, error) {
	start := p.pos
	for {
		if !isIdentStart(p.peek()) {
			if !p.more() {
				return "", p.fail(p.pos, "expected a field name, found the end")
			}
			return "", p.fail(p.pos, "expected a field name, found %q", p.peek())
		}
		for p.pos++; isIdentStart(p.peek()) || '0' <= p.peek() && p.peek() <= '9'; p.pos++ {
		}
		if p.peek() != '.' {
			return p.src[start:p.pos], nil
		}
		p.pos++
	}
}

func isIdentStart(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_'
}

// literal parses the longest run of literal characters and escapes at pos
// and returns it normalised; it may be empty.
func (p *parser) literal() (string, error) {
	start := p.pos
	for p.more() {
		c := p.peek()
		switch {
		case c == '%':
			if _, ok := escapeAt(p.src, p.pos); !ok {
				return "", p.fail(p.pos, "malformed percent-escape: '%%' must be followed by two hex digits")
			}
			p.pos += 3
		case isLiteralByte(c):
			p.pos++
		default:
			return normalize(p.src[start:p.pos]), nil
		}
	}
	return normalize(p.src[start:p.pos]), nil
}
