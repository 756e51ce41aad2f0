package traffic

import (
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"regexp"
)

// maxWeight bounds one backend's weight (basis points of a 100% split).
const maxWeight = 10000

// rule is a compiled Rule.
type rule struct {
	header string // canonical header name, or "" for a cookie rule
	cookie string
	value  string
	re     *regexp.Regexp
	exists bool // neither Value nor Regex: presence is enough
	idx    int
}

// splitBuilder turns SplitOptions into a Split.
type splitBuilder struct {
	s        Split
	byName   map[string]int
	handlers map[string]http.Handler
}

func (b *splitBuilder) build(o SplitOptions) (*Split, error) {
	if len(o.Weights) == 0 {
		return nil, errors.New("split: weights: at least one backend is required")
	}
	for i, r := range o.Rules {
		cr, err := b.rule(r)
		if err != nil {
			return nil, fmt.Errorf("split: rules[%d]: %w", i, err)
		}
		b.s.rules = append(b.s.rules, cr)
	}
	if err := b.weights(o.Weights); err != nil {
		return nil, err
	}
	key, err := parseKeySource(o.Sticky)
	if err != nil {
		return nil, fmt.Errorf("split: sticky: %w", err)
	}
	b.s.key = key
	b.s.seed = seedFor(o.Salt)
	if o.SetCookie.Name != "" {
		pin, err := newPinner(o.SetCookie, b.s.backends)
		if err != nil {
			return nil, fmt.Errorf("split: set_cookie: %w", err)
		}
		b.s.pin = pin
	}
	b.s.onChoice = o.OnChoice
	s := b.s
	return &s, nil
}

// weights checks the weighted list and lays out the spans of points.
func (b *splitBuilder) weights(ws []Weighted) error {
	seen := map[string]bool{}
	for i, w := range ws {
		if seen[w.Backend] {
			return fmt.Errorf("split: weights[%d]: backend %q listed twice", i, w.Backend)
		}
		seen[w.Backend] = true
		if w.Weight < 0 || w.Weight > maxWeight {
			return fmt.Errorf("split: weights[%d]: weight %d is outside 0..%d", i, w.Weight, maxWeight)
		}
		idx, err := b.backend(w.Backend)
		if err != nil {
			return fmt.Errorf("split: weights[%d]: %w", i, err)
		}
		b.s.backends[idx].weight = w.Weight
		if w.Weight == 0 {
			continue
		}
		b.s.total += uint64(w.Weight)
		b.s.points = append(b.s.points, span{end: b.s.total, idx: idx})
	}
	if b.s.total == 0 {
		return errors.New("split: weights: the sum of weights must be above 0")
	}
	return nil
}

// rule compiles one Rule.
func (b *splitBuilder) rule(r Rule) (rule, error) {
	var cr rule
	switch {
	case (r.Header == "") == (r.Cookie == ""):
		return cr, errors.New("exactly one of header and cookie is required")
	case r.Header != "":
		if !validToken(r.Header) {
			return cr, fmt.Errorf("invalid header name %q", r.Header)
		}
		cr.header = textproto.CanonicalMIMEHeaderKey(r.Header)
	default:
		if !validToken(r.Cookie) {
			return cr, fmt.Errorf("invalid cookie name %q", r.Cookie)
		}
		cr.cookie = r.Cookie
	}
	switch {
	case r.Value != "" && r.Regex != "":
		return cr, errors.New("value and regex are exclusive")
	case r.Regex != "":
		re, err := regexp.Compile(`^(?:` + r.Regex + `)$`)
		if err != nil {
			return cr, fmt.Errorf("regex: %w", err)
		}
		cr.re = re
	case r.Value != "":
		cr.value = r.Value
	default:
		cr.exists = true
	}
	idx, err := b.backend(r.Backend)
	if err != nil {
		return cr, err
	}
	cr.idx = idx
	return cr, nil
}

// backend returns the index of the named backend, adding it on first use.
func (b *splitBuilder) backend(name string) (int, error) {
	if i, ok := b.byName[name]; ok {
		return i, nil
	}
	h := b.handlers[name]
	if h == nil {
		return 0, fmt.Errorf("unknown backend %q", name)
	}
	b.byName[name] = len(b.s.backends)
	b.s.backends = append(b.s.backends, backend{name: name, h: h})
	return len(b.s.backends) - 1, nil
}

// match reports whether r carries the header or cookie the rule wants.
func (cr *rule) match(r *http.Request) bool {
	if cr.header == "" {
		v, ok := cookieValue(r.Header, cr.cookie)
		return ok && cr.matchValue(v)
	}
	for _, v := range r.Header[cr.header] {
		if cr.matchValue(v) {
			return true
		}
	}
	return false
}

func (cr *rule) matchValue(v string) bool {
	switch {
	case cr.exists:
		return true
	case cr.re != nil:
		return cr.re.MatchString(v)
	default:
		return v == cr.value
	}
}

// validToken reports whether s is a non-empty RFC 9110 token (header and
// cookie names).
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || isSeparator(c) {
			return false
		}
	}
	return true
}

func isSeparator(c byte) bool {
	switch c {
	case '(', ')', '<', '>', '@', ',', ';', ':', '\\', '"', '/', '[', ']', '?', '=', '{', '}':
		return true
	}
	return false
}
