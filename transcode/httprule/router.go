package httprule

import (
	"fmt"
	"strings"
)

// Router maps a method and an escaped path to the value of the template
// that matches best. It is immutable and safe for concurrent use.
type Router[T any] struct {
	methods []methodRoutes[T] // sorted by method
}

// Match is a successful lookup: the value registered with the template and
// the values of its variables, in the template's order.
type Match[T any] struct {
	Value T
	Vars  []VarValue
}

// VarValue is the decoded value of a template variable: a single-segment
// variable fully decoded, a multi-segment one with "%2F" kept escaped.
type VarValue struct {
	FieldPath string
	Value     string
}

// methodRoutes holds the tries of one method: one for the templates
// without a verb and one per verb.
type methodRoutes[T any] struct {
	method string
	plain  *node[T]
	verbs  []verbRoot[T]
}

type verbRoot[T any] struct {
	verb string
	root *node[T]
}

// node is a trie node; the edge into it is one template segment.
type node[T any] struct {
	lits    map[string]*node[T] // literal children by normalised literal
	litList []litChild[T]       // the same, for segments holding escapes
	wild    *node[T]            // "*"
	multi   *node[T]            // "**": always a leaf
	leaf    *leaf[T]            // a template ends here
}

type litChild[T any] struct {
	lit  string
	node *node[T]
}

type leaf[T any] struct {
	tmpl  *Template
	value T
}

// Lookup matches escapedPath (as url.URL.EscapedPath returns it) for
// method. On a match, found is true and m holds the value and the decoded
// variables. Otherwise, allowed lists, sorted, the other methods under
// which the path matches (answer 405 with Allow), or is nil (404). err,
// wrapping ErrBadEscape, reports a malformed percent-escape anywhere in the
// path (answer 400). Lookup allocates only m.Vars, one buffer shared by
// the variable values that hold escapes, and allowed.
func (r *Router[T]) Lookup(method, escapedPath string) (m Match[T], allowed []string, found bool, err error) {
	if i := badEscape(escapedPath); i >= 0 {
		return m, nil, false, fmt.Errorf("httprule: path offset %d: %w", i, ErrBadEscape)
	}
	if r == nil || !strings.HasPrefix(escapedPath, "/") {
		return m, nil, false, nil
	}
	for i := range r.methods {
		if r.methods[i].method != method {
			continue
		}
		if lf, path := r.methods[i].find(escapedPath); lf != nil {
			return Match[T]{Value: lf.value, Vars: lf.tmpl.values(path)}, nil, true, nil
		}
	}
	for i := range r.methods {
		if r.methods[i].method == method {
			continue
		}
		if lf, _ := r.methods[i].find(escapedPath); lf != nil {
			if allowed == nil {
				allowed = make([]string, 0, len(r.methods)-i) // one allocation
			}
			allowed = append(allowed, r.methods[i].method)
		}
	}
	return m, allowed, false, nil
}

// find matches path against the verb templates when its last segment ends
// with one of the method's verbs, then against the plain ones. It returns
// the leaf and the path its template matched (without the verb).
func (m *methodRoutes[T]) find(path string) (*leaf[T], string) {
	if len(m.verbs) > 0 {
		last := path[strings.LastIndexByte(path, '/')+1:]
		if c := strings.LastIndexByte(last, ':'); c >= 0 {
			verb := last[c+1:]
			for _, v := range m.verbs {
				if !literalEq(v.verb, verb) {
					continue
				}
				trimmed := path[:len(path)-len(verb)-1]
				if lf := v.root.match(trimmed[1:], trimmed == "/"); lf != nil {
					return lf, trimmed
				}
				break
			}
		}
	}
	return m.plain.match(path[1:], path == "/"), path
}

// match walks the trie from n over rest, the path after the segments
// already matched; done reports that no segment is left (rest is then "").
// Literal children are tried before "*", and "*" before "**". Each node is
// reached at one depth only, so the walk visits every node at most once.
func (n *node[T]) match(rest string, done bool) *leaf[T] {
	if done {
		if n.leaf != nil {
			return n.leaf
		}
		if n.multi != nil {
			return n.multi.leaf
		}
		return nil
	}
	seg, next, last := rest, "", true
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		seg, next, last = rest[:i], rest[i+1:], false
	}
	if c := n.literal(seg); c != nil {
		if lf := c.match(next, last); lf != nil {
			return lf
		}
	}
	if n.wild != nil && seg != "" {
		if lf := n.wild.match(next, last); lf != nil {
			return lf
		}
	}
	if n.multi != nil {
		return n.multi.leaf
	}
	return nil
}

// literal returns the literal child matching the escaped segment seg.
func (n *node[T]) literal(seg string) *node[T] {
	if len(n.litList) == 0 {
		return nil
	}
	if strings.IndexByte(seg, '%') < 0 {
		return n.lits[seg]
	}
	for _, c := range n.litList {
		if literalEq(c.lit, seg) {
			return c.node
		}
	}
	return nil
}

// values extracts and decodes the variables of t from path, which t
// matches. Segment i of a template is path segment i; "**" takes the rest.
func (t *Template) values(path string) []VarValue {
	if len(t.vars) == 0 {
		return nil
	}
	out := make([]VarValue, len(t.vars))
	pos, vi, from, escaped := 1, 0, 0, 0
	for i, s := range t.segs {
		start := min(pos, len(path))
		end := len(path)
		if j := strings.IndexByte(path[start:], '/'); s.kind != multiSeg && j >= 0 {
			end = start + j
		}
		if t.vars[vi].start == i {
			from = start
		}
		if t.vars[vi].end == i+1 {
			raw := path[from:end]
			out[vi] = VarValue{FieldPath: t.vars[vi].FieldPath, Value: raw}
			if strings.IndexByte(raw, '%') >= 0 {
				escaped += decodedLen(raw, t.vars[vi].Multi)
			}
			if vi++; vi == len(t.vars) {
				break
			}
		}
		pos = end + 1
	}
	if escaped > 0 {
		t.decode(out, escaped)
	}
	return out
}

// decode replaces the values holding escapes by their decoded form, all
// written to one buffer of n bytes (their total decoded length).
func (t *Template) decode(out []VarValue, n int) {
	var b strings.Builder
	b.Grow(n)
	for i := range out {
		if strings.IndexByte(out[i].Value, '%') >= 0 {
			writeDecoded(&b, out[i].Value, t.vars[i].Multi)
		}
	}
	buf, off := b.String(), 0
	for i := range out {
		if strings.IndexByte(out[i].Value, '%') >= 0 {
			l := decodedLen(out[i].Value, t.vars[i].Multi)
			out[i].Value = buf[off : off+l]
			off += l
		}
	}
}
