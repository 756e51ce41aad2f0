package httprule

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrDuplicate is wrapped by the error Add returns when the method already
// has a template of the same shape.
var ErrDuplicate = errors.New("duplicate route")

// Builder collects templates and compiles them into a Router. The zero
// value is ready to use. A Builder is not safe for concurrent use.
type Builder[T any] struct {
	entries []entry[T]
	shapes  map[string]int // method + " " + shape -> index in entries
}

type entry[T any] struct {
	method string
	tmpl   *Template
	value  T
}

// Add registers value for method (GET, PUT, POST, DELETE, PATCH or any
// other HTTP method token, compared case-sensitively) and template t. It
// fails, naming both templates, when method already has a template of the
// same shape: the same literals, wildcards and verb, whatever the variable
// names, as "/v1/{name=shelves/*}" and "/v1/shelves/{id}".
func (b *Builder[T]) Add(method string, t *Template, v T) error {
	if t == nil {
		return errors.New("httprule: add: nil template")
	}
	if !isToken(method) {
		return fmt.Errorf("httprule: add %s: %q is not an HTTP method", t.source, method)
	}
	key := method + " " + t.shape
	if i, ok := b.shapes[key]; ok {
		return fmt.Errorf("httprule: %s %s and %s %s: %w (same shape %s)",
			method, t.source, method, b.entries[i].tmpl.source, ErrDuplicate, t.shape)
	}
	if b.shapes == nil {
		b.shapes = map[string]int{}
	}
	b.shapes[key] = len(b.entries)
	b.entries = append(b.entries, entry[T]{method: method, tmpl: t, value: v})
	return nil
}

// Build compiles the templates added so far into a new Router. Later
// calls to Add do not change it.
func (b *Builder[T]) Build() *Router[T] {
	r := &Router[T]{}
	for _, e := range b.entries {
		i, ok := slices.BinarySearchFunc(r.methods, e.method, func(m methodRoutes[T], name string) int {
			return strings.Compare(m.method, name)
		})
		if !ok {
			r.methods = slices.Insert(r.methods, i, methodRoutes[T]{method: e.method, plain: &node[T]{}})
		}
		r.methods[i].root(e.tmpl.verb).insert(e.tmpl, e.value)
	}
	return r
}

// root returns the trie of the templates with the given verb ("" for none),
// creating it.
func (m *methodRoutes[T]) root(verb string) *node[T] {
	if verb == "" {
		return m.plain
	}
	for _, v := range m.verbs {
		if v.verb == verb {
			return v.root
		}
	}
	n := &node[T]{}
	m.verbs = append(m.verbs, verbRoot[T]{verb: verb, root: n})
	return n
}

// insert adds the path from n along the segments of t; the builder has
// already refused duplicate shapes.
func (n *node[T]) insert(t *Template, v T) {
	for _, s := range t.segs {
		n = n.child(s)
	}
	n.leaf = &leaf[T]{tmpl: t, value: v}
}

func (n *node[T]) child(s segment) *node[T] {
	switch s.kind {
	case wildSeg:
		if n.wild == nil {
			n.wild = &node[T]{}
		}
		return n.wild
	case multiSeg:
		if n.multi == nil {
			n.multi = &node[T]{}
		}
		return n.multi
	}
	if c, ok := n.lits[s.lit]; ok {
		return c
	}
	if n.lits == nil {
		n.lits = map[string]*node[T]{}
	}
	c := &node[T]{}
	n.lits[s.lit] = c
	n.litList = append(n.litList, litChild[T]{lit: s.lit, node: c})
	return c
}

// isToken reports an RFC 9110 token, the syntax of a method.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isUnreserved(c) && strings.IndexByte("!#$%&'*+^`|", c) < 0 {
			return false
		}
	}
	return true
}
