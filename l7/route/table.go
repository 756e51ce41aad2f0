package route

import (
	"errors"
	"net/http"

	"github.com/bouncer-proxy/bouncer/configs"
)

// Entry is one route to compile: its match conditions and the value Match
// returns for it.
type Entry[T any] struct {
	Name  string        // for errors and Rows
	Match configs.Match // the conditions
	Value T             // returned by Match
	Index int           // position in the config: errors and the last tie-break
}

// Table is a compiled, immutable route table. It is safe for concurrent
// use; a reload compiles a new Table and swaps it in whole.
type Table[T any] struct {
	exactHosts map[string]*group[T] // by lower-case host
	wildHosts  map[string]*group[T] // by suffix from the dot: ".example.com"
	anyHost    *group[T]            // routes without hosts; nil if none
	minWild    int                  // shortest and longest key of wildHosts
	maxWild    int
	rows       []Row
}

// Compile checks and compiles entries. It reports every problem at once,
// joined with errors.Join, each an *Error naming the route: a bad host,
// regex, template or method, more than one of path, prefix, template and
// regex, a path no normalized request can have, and a route that can never
// match because an earlier one has the same hosts and conditions
// (ErrNeverMatches). On error the table is nil.
func Compile[T any](entries []Entry[T]) (*Table[T], error) {
	var errs []error
	routes := make([]*route[T], 0, len(entries))
	for i := range entries {
		r, es := compileRoute(&entries[i], i)
		errs = append(errs, es...)
		if r != nil {
			routes = append(routes, r)
		}
	}
	errs = append(errs, conflicts(routes)...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return build(routes), nil
}

func build[T any](routes []*route[T]) *Table[T] {
	t := &Table[T]{exactHosts: map[string]*group[T]{}, wildHosts: map[string]*group[T]{}}
	var groups []*group[T]
	at := func(m map[string]*group[T], key string) *group[T] {
		g := m[key]
		if g == nil {
			g = newGroup[T]()
			m[key] = g
			groups = append(groups, g)
		}
		return g
	}
	for _, r := range routes {
		if len(r.hosts) == 0 {
			if t.anyHost == nil {
				t.anyHost = newGroup[T]()
				groups = append(groups, t.anyHost)
			}
			t.anyHost.add(r)
		}
		for _, h := range r.hosts {
			if h.wild {
				at(t.wildHosts, h.key).add(r)
				t.maxWild = max(t.maxWild, len(h.key))
				if t.minWild == 0 || len(h.key) < t.minWild {
					t.minWild = len(h.key)
				}
			} else {
				at(t.exactHosts, h.key).add(r)
			}
		}
	}
	for _, g := range groups {
		g.finish()
	}
	t.rows = rows(routes)
	return t
}

// Match returns the value of the route that wins for the request, and
// false when none matches. host is the request's host as sent (Host or
// :authority): a port, IPv6 brackets and a trailing dot are dropped and
// case is ignored. path must be the output of NormalizePath. h holds the
// request headers under canonical keys, as Go's server stores them;
// rawQuery is the query as sent, without "?". Match does not allocate,
// except to decode an escaped query value tested by a regex. Safe for
// concurrent use.
func (t *Table[T]) Match(host, path, method string, h http.Header, rawQuery string) (T, bool) {
	rq := request{path: path, method: method, header: h, query: rawQuery}
	if r := t.find(host, &rq); r != nil {
		return r.value, true
	}
	var zero T
	return zero, false
}

// find tries the host groups from the most specific: the exact host, then
// wildcard suffixes from the longest, then routes without hosts.
func (t *Table[T]) find(host string, rq *request) *route[T] {
	if t == nil {
		return nil
	}
	if len(t.exactHosts) > 0 || len(t.wildHosts) > 0 {
		var buf [maxHost]byte
		if key, ok, name := requestHost(host, &buf); ok {
			if g := t.exactHosts[string(key)]; g != nil {
				if r := g.match(rq); r != nil {
					return r
				}
			}
			// A wildcard takes host names only: evil.test#.example.com
			// ends in .example.com but names no subdomain of it.
			for i := max(1, len(key)-t.maxWild); name && i <= len(key)-t.minWild && len(t.wildHosts) > 0; i++ {
				if key[i] != '.' {
					continue
				}
				if g := t.wildHosts[string(key[i:])]; g != nil {
					if r := g.match(rq); r != nil {
						return r
					}
				}
			}
		}
	}
	if t.anyHost != nil {
		return t.anyHost.match(rq)
	}
	return nil
}

// Rows lists the routes in precedence order, for display (bouncer routes).
// The caller must not modify the slice.
func (t *Table[T]) Rows() []Row { return t.rows }
