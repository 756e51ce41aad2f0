package route

import (
	"cmp"
	"slices"
	"strings"
)

// group holds the routes of one host (or of every host): exact paths in a
// map, the others in a radix tree keyed by their literal prefix.
type group[T any] struct {
	exact map[string][]*route[T]
	tree  node[T]
}

func newGroup[T any]() *group[T] { return &group[T]{exact: map[string][]*route[T]{}} }

func (g *group[T]) add(r *route[T]) {
	if r.kind == kindExact {
		g.exact[r.literal] = append(g.exact[r.literal], r)
		return
	}
	g.tree.insert(r.literal, r)
}

// finish orders every candidate list by precedence; the group is read-only
// afterwards.
func (g *group[T]) finish() {
	for _, rs := range g.exact {
		slices.SortFunc(rs, compareCandidates)
	}
	g.tree.finish()
}

// match returns the first route of the group that matches, or nil: an
// exact path first, then the tree from the deepest literal prefix up.
func (g *group[T]) match(rq *request) *route[T] {
	for _, r := range g.exact[rq.path] {
		if r.conds.match(rq) {
			return r
		}
	}
	return g.tree.find(rq.path, rq)
}

// node is a node of a byte-wise radix tree. A route sits at the node whose
// key (the labels from the root) is its literal prefix, so each route at a
// node reached by a path has a literal prefix that the path starts with.
type node[T any] struct {
	label    string // the key bytes from the parent to here
	firsts   string // first label byte of each child, in children order
	children []*node[T]
	routes   []*route[T] // in precedence order once finished
}

// insert adds r under key, splitting a child whose label only partly
// matches.
func (n *node[T]) insert(key string, r *route[T]) {
	for key != "" {
		i := strings.IndexByte(n.firsts, key[0])
		if i < 0 {
			n.firsts += key[:1]
			n.children = append(n.children, &node[T]{label: key, routes: []*route[T]{r}})
			return
		}
		c := n.children[i]
		l := commonPrefix(key, c.label)
		if l < len(c.label) {
			mid := &node[T]{label: c.label[:l], firsts: c.label[l : l+1], children: []*node[T]{c}}
			c.label = c.label[l:]
			n.children[i] = mid
			c = mid
		}
		n, key = c, key[l:]
	}
	n.routes = append(n.routes, r)
}

func (n *node[T]) finish() {
	slices.SortFunc(n.routes, compareCandidates)
	for _, c := range n.children {
		c.finish()
	}
}

// find walks down the tree along rest, the part of path after this node's
// key, then tries the routes of the deepest node first: a longer literal
// prefix wins. It does not allocate.
func (n *node[T]) find(rest string, rq *request) *route[T] {
	if rest != "" {
		if i := strings.IndexByte(n.firsts, rest[0]); i >= 0 {
			c := n.children[i]
			if strings.HasPrefix(rest, c.label) {
				if r := c.find(rest[len(c.label):], rq); r != nil {
					return r
				}
			}
		}
	}
	for _, r := range n.routes {
		if r.matches(rq) {
			return r
		}
	}
	return nil
}

func commonPrefix(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// compareCandidates orders routes that share a host group and a literal
// prefix: by path kind (template, prefix, regex, none), then more
// conditions first, then config order.
func compareCandidates[T any](a, b *route[T]) int {
	return cmp.Or(
		cmp.Compare(a.kind, b.kind),
		cmp.Compare(b.ncond, a.ncond),
		cmp.Compare(a.index, b.index),
		cmp.Compare(a.order, b.order),
	)
}
