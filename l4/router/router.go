// Package router picks the L4 route of a connection from what one peek
// learned about it: its TLS server name (SNI) and ALPN offer, whether it
// is TLS or HTTP, the local port it arrived on and the client's address.
// Routes are compiled once per config; Match runs per connection and
// does not allocate.
package router

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
)

// Conn is what a route can match on.
type Conn struct {
	TLS    bool       // the connection starts with a TLS ClientHello
	SNI    string     // lower case, no trailing dot ("" without SNI)
	ALPN   []string   // protocols offered in the ClientHello
	Port   uint16     // local port the connection arrived on
	Client netip.Addr // the client's address (after PROXY protocol)
}

// Match is one route's conditions; an empty field matches anything.
type Match struct {
	SNI     []string // exact names, *.example.com (one label or more) or ~regex (whole name)
	ALPN    []string // any one of them offered
	Ports   []uint16
	Clients []netip.Prefix
	TLS     *bool // true: TLS only; false: not TLS
}

// Route is a compiled route carrying a value V (the action). A config
// entry compiles to one Route per form of server name it lists (its exact
// names, each wildcard, its regexes), all with the entry's Name and Value,
// so that a connection is ranked by the form that matched its name, not by
// the most specific form the entry happens to list.
type Route[V any] struct {
	Name  string
	Value V

	exact    map[string]bool
	suffixes []string // ".example.com" for *.example.com; at most one per Route
	regexes  []*regexp.Regexp
	alpn     []string
	ports    []uint16
	clients  []netip.Prefix
	tls      *bool
	rank     [5]int // specificity, compared in order; higher wins
	index    int    // position in the config
	pos      int    // position in the table (most specific first)
}

// Table is an ordered set of routes. Routes that list exact server names
// are also indexed by name, so a connection is tested only against the
// routes for its name and those without exact names.
type Table[V any] struct {
	routes  []*Route[V]
	exact   map[string][]*Route[V] // by name, in table order
	rest    []*Route[V]            // routes without exact names, in table order
	entries int
}

// Entry is one route to compile.
type Entry[V any] struct {
	Name  string
	Match Match
	Value V
}

// Compile builds a table. A regex that does not compile is an error
// naming the route.
func Compile[V any](entries []Entry[V]) (*Table[V], error) {
	t := &Table[V]{entries: len(entries)}
	for i, e := range entries {
		rs, err := compileEntry(e, i)
		if err != nil {
			return nil, err
		}
		t.routes = append(t.routes, rs...)
	}
	// Most specific first; the config's order breaks ties.
	slices.SortStableFunc(t.routes, func(a, b *Route[V]) int {
		for k := range a.rank {
			if a.rank[k] != b.rank[k] {
				return b.rank[k] - a.rank[k]
			}
		}
		return a.index - b.index
	})
	t.exact = map[string][]*Route[V]{}
	for i, r := range t.routes {
		r.pos = i
		for name := range r.exact {
			t.exact[name] = append(t.exact[name], r)
		}
		if r.exact == nil {
			t.rest = append(t.rest, r)
		}
	}
	return t, nil
}

// compileEntry returns the routes of one entry: one for its exact names,
// one per wildcard, one for its regexes, or a single one without names.
// Names are lower-cased without a trailing dot, as the peek reports them;
// a regex is matched case-insensitively as written (lower-casing it would
// turn \D into \d).
func compileEntry[V any](e Entry[V], index int) ([]*Route[V], error) {
	var exact map[string]bool
	var suffixes []string
	var regexes []*regexp.Regexp
	for _, s := range e.Match.SNI {
		if expr, ok := strings.CutPrefix(s, "~"); ok {
			re, err := regexp.Compile("^(?i:" + expr + ")$")
			if err != nil {
				return nil, fmt.Errorf("route %s: sni %q: %w", e.Name, s, err)
			}
			regexes = append(regexes, re)
			continue
		}
		s = strings.TrimSuffix(strings.ToLower(s), ".")
		if strings.HasPrefix(s, "*.") {
			suffixes = append(suffixes, s[1:])
			continue
		}
		if exact == nil {
			exact = map[string]bool{}
		}
		exact[s] = true
	}
	var out []*Route[V]
	add := func(set func(*Route[V])) {
		r := &Route[V]{Name: e.Name, Value: e.Value, alpn: e.Match.ALPN, ports: e.Match.Ports,
			clients: e.Match.Clients, tls: e.Match.TLS, index: index}
		set(r)
		r.rank = rankOf(r)
		out = append(out, r)
	}
	if exact != nil {
		add(func(r *Route[V]) { r.exact = exact })
	}
	for _, s := range suffixes {
		add(func(r *Route[V]) { r.suffixes = []string{s} })
	}
	if regexes != nil {
		add(func(r *Route[V]) { r.regexes = regexes })
	}
	if out == nil {
		add(func(*Route[V]) {})
	}
	return out, nil
}

// rankOf orders routes as Envoy orders filter chains: by server name
// (exact, then the longest wildcard, then a regex), then ALPN, then the
// longest client prefix, then port, then the TLS condition.
func rankOf[V any](r *Route[V]) [5]int {
	var k [5]int
	switch {
	case len(r.exact) > 0:
		k[0] = 3 << 16
	case len(r.suffixes) > 0:
		k[0] = 2<<16 + len(r.suffixes[0])
	case len(r.regexes) > 0:
		k[0] = 1 << 16
	}
	if len(r.alpn) > 0 {
		k[1] = 1
	}
	k[2] = -1
	for _, p := range r.clients {
		k[2] = max(k[2], p.Bits())
	}
	if len(r.ports) > 0 {
		k[3] = 1
	}
	if r.tls != nil {
		k[4] = 1
	}
	return k
}

// Match returns the most specific route that matches c: the first in
// table order among the routes for c's name and the others.
func (t *Table[V]) Match(c *Conn) (*Route[V], bool) {
	var best *Route[V]
	for _, r := range t.exact[c.SNI] {
		if r.matches(c) {
			best = r
			break
		}
	}
	for _, r := range t.rest {
		if best != nil && r.pos > best.pos {
			break
		}
		if r.matches(c) {
			return r, true
		}
	}
	return best, best != nil
}

// Len is the number of routes (config entries) compiled.
func (t *Table[V]) Len() int { return t.entries }

func (r *Route[V]) matches(c *Conn) bool {
	if r.tls != nil && *r.tls != c.TLS {
		return false
	}
	if len(r.ports) > 0 && !slices.Contains(r.ports, c.Port) {
		return false
	}
	if len(r.clients) > 0 && !slices.ContainsFunc(r.clients, func(p netip.Prefix) bool { return p.Contains(c.Client.Unmap()) }) {
		return false
	}
	if len(r.alpn) > 0 && !slices.ContainsFunc(c.ALPN, func(p string) bool { return slices.Contains(r.alpn, p) }) {
		return false
	}
	if r.exact == nil && r.suffixes == nil && r.regexes == nil {
		return true
	}
	if c.SNI == "" {
		return false
	}
	if r.exact[c.SNI] {
		return true
	}
	for _, s := range r.suffixes {
		if len(c.SNI) > len(s) && strings.HasSuffix(c.SNI, s) {
			return true
		}
	}
	for _, re := range r.regexes {
		if re.MatchString(c.SNI) {
			return true
		}
	}
	return false
}
