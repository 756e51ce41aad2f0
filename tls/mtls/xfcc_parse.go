package mtls

import (
	"fmt"
	"strings"
)

// ParseXFCC splits an x-forwarded-client-cert header into its elements,
// one map of key to value per proxy hop, oldest first. Elements are
// separated by ',' (white space around it is allowed, as when a proxy
// joins header lines), pairs by ';'. Quoted values are unquoted and
// unescaped. A key repeated in one element (URI, DNS) maps to its values
// joined by ','. An empty header gives no elements; anything else that
// does not follow the grammar, including control characters, is an error
// wrapping ErrXFCC. It runs in time linear in len(s).
func ParseXFCC(s string) ([]map[string]string, error) {
	p := xfccParser{s: s}
	p.skipSpace()
	if p.i == len(s) {
		return nil, nil
	}
	var elems []map[string]string
	for {
		m, err := p.element()
		if err != nil {
			return nil, err
		}
		elems = append(elems, m)
		p.skipSpace()
		if p.i == len(s) {
			return elems, nil
		}
		p.i++ // ',': element stops only there or at the end
		p.skipSpace()
	}
}

// xfccParser walks a header once.
type xfccParser struct {
	s string
	i int
}

// element reads pairs up to a ',' or the end of the header. Values of a
// repeated key are gathered and joined once, keeping the parse linear.
func (p *xfccParser) element() (map[string]string, error) {
	values := make(map[string][]string)
	for {
		key, err := p.key()
		if err != nil {
			return nil, err
		}
		value, err := p.value()
		if err != nil {
			return nil, err
		}
		values[key] = append(values[key], value)
		if p.i == len(p.s) || p.s[p.i] == ',' {
			break
		}
		p.i++ // ';'
	}
	m := make(map[string]string, len(values))
	for k, vs := range values {
		m[k] = strings.Join(vs, ",")
	}
	return m, nil
}

// key reads a key and the '=' after it.
func (p *xfccParser) key() (string, error) {
	start := p.i
	for p.i < len(p.s) && p.s[p.i] != '=' {
		c := p.s[p.i]
		if strings.IndexByte(",;\"\\ \t", c) >= 0 || isCTL(c) {
			return "", p.errorf("unexpected %q in a key", c)
		}
		p.i++
	}
	if p.i == len(p.s) {
		return "", p.errorf("pair without '='")
	}
	if p.i == start {
		return "", p.errorf("empty key")
	}
	key := p.s[start:p.i]
	p.i++
	return key, nil
}

// value reads a quoted or plain value and leaves p at the ';' or ','
// after it, or at the end.
func (p *xfccParser) value() (string, error) {
	if p.i < len(p.s) && p.s[p.i] == '"' {
		return p.quoted()
	}
	start := p.i
	for p.i < len(p.s) && p.s[p.i] != ';' && p.s[p.i] != ',' {
		c := p.s[p.i]
		if c == '"' || c == '=' || isCTL(c) {
			return "", p.errorf("unexpected %q in an unquoted value", c)
		}
		p.i++
	}
	v := p.s[start:p.i]
	if p.i == len(p.s) || p.s[p.i] == ',' {
		v = strings.TrimRight(v, " \t") // white space before ',' belongs to the list
	}
	return v, nil
}

// quoted reads a double-quoted value in which a backslash escapes the
// next byte.
func (p *xfccParser) quoted() (string, error) {
	p.i++
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case isCTL(c):
			return "", p.errorf("control character in a quoted value")
		case c == '\\':
			p.i++
			if p.i == len(p.s) || isCTL(p.s[p.i]) {
				return "", p.errorf("bad escape in a quoted value")
			}
			b.WriteByte(p.s[p.i])
		case c == '"':
			p.i++
			return b.String(), p.afterQuote()
		default:
			b.WriteByte(c)
		}
		p.i++
	}
	return "", p.errorf("unterminated quoted value")
}

// afterQuote checks that a closing quote is followed by ';', by ',' (white
// space before it allowed) or by the end.
func (p *xfccParser) afterQuote() error {
	j := p.i
	for j < len(p.s) && (p.s[j] == ' ' || p.s[j] == '\t') {
		j++
	}
	switch {
	case j == len(p.s) || p.s[j] == ',':
		p.i = j
	case p.i < len(p.s) && p.s[p.i] == ';':
	default:
		return p.errorf("unexpected %q after a quoted value", p.s[j])
	}
	return nil
}

// skipSpace skips optional white space.
func (p *xfccParser) skipSpace() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

// errorf makes an error at the current offset.
func (p *xfccParser) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: at byte %d: %s", ErrXFCC, p.i, fmt.Sprintf(format, args...))
}
