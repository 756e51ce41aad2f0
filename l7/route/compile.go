package route

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/bouncer-proxy/bouncer/configs"
)

// pathKind is how a route matches the path. The order of the constants is
// the precedence of kinds that share a literal prefix of equal length.
type pathKind uint8

const (
	kindTemplate pathKind = iota
	kindPrefix
	kindRegex
	kindAny   // no path condition: comes last
	kindExact // exact path, kept in a map and tried before all others
)

// route is one compiled Entry.
type route[T any] struct {
	name  string
	index int // config order
	order int // position in Compile's argument, the last tie-break
	value T

	hosts   []hostPattern
	kind    pathKind
	literal string // exact: the path; others: the literal prefix
	tmpl    *template
	re      *regexp.Regexp
	conds   conditions
	ncond   int

	pathText string // shown in Rows: kind and pattern as configured
	key      string // its conditions, save hosts, for conflict detection
}

// request is what Match tests, gathered once.
type request struct {
	path, method string
	header       http.Header
	query        string
}

// matches tests what the route's place in the table does not already
// guarantee: a template or regex, then the other conditions.
func (r *route[T]) matches(rq *request) bool {
	switch r.kind {
	case kindTemplate:
		if !r.tmpl.match(rq.path) {
			return false
		}
	case kindRegex:
		if !r.re.MatchString(rq.path) {
			return false
		}
	}
	return r.conds.match(rq)
}

// compileRoute compiles one entry, returning every problem found in it.
func compileRoute[T any](e *Entry[T], order int) (*route[T], []error) {
	p := &problems{name: e.Name, index: e.Index}
	r := &route[T]{name: e.Name, index: e.Index, order: order, value: e.Value}
	r.hosts = compileHosts(p, e.Match.Hosts)
	compilePath(p, r, &e.Match)
	r.conds = compileConditions(p, &e.Match)
	if len(p.errs) > 0 {
		return nil, p.errs
	}
	r.ncond = r.conds.count()
	r.key = r.conflictKey()
	return r, nil
}

// compileHosts parses the hosts, dropping repeats.
func compileHosts(p *problems, hosts []string) []hostPattern {
	var out []hostPattern
	for i, s := range hosts {
		h, err := parseHost(s)
		if err != nil {
			p.addf(fmt.Sprintf("match.hosts[%d]", i), "host %q: %w", s, err)
			continue
		}
		if !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out
}

// compilePath sets the route's path kind, literal and matcher. A template
// without variables and a regex that is plain text are exact paths.
func compilePath[T any](p *problems, r *route[T], m *configs.Match) {
	var set []string
	for _, f := range []struct{ name, v string }{{"path", m.Path}, {"prefix", m.Prefix}, {"template", m.Template}, {"regex", m.Regex}} {
		if f.v != "" {
			set = append(set, f.name)
		}
	}
	if len(set) > 1 {
		p.addf("match", "only one of path, prefix, template and regex may be set, not %s", strings.Join(set, " and "))
		return
	}
	switch {
	case m.Path != "":
		r.kind, r.literal, r.pathText = kindExact, m.Path, "path "+m.Path
		checkNormal(p, "match.path", m.Path)
	case m.Prefix != "":
		r.kind, r.literal, r.pathText = kindPrefix, m.Prefix, "prefix "+m.Prefix
		checkNormal(p, "match.prefix", m.Prefix)
	case m.Template != "":
		r.kind, r.pathText = kindTemplate, "template "+m.Template
		t, err := parseTemplate(m.Template)
		if err != nil {
			p.addf("match.template", "bad template %q: %w", m.Template, err)
			return
		}
		r.tmpl, r.literal = t, t.literal
		if !t.vars {
			r.kind = kindExact
		}
	case m.Regex != "":
		r.kind, r.pathText = kindRegex, "regex "+m.Regex
		re, err := compileWhole(m.Regex)
		if err != nil {
			p.addf("match.regex", "bad regex %q: %w", m.Regex, err)
			return
		}
		r.re = re
		var complete bool
		if r.literal, complete = literalPrefix(m.Regex); complete {
			r.kind = kindExact
		}
	default:
		r.kind = kindAny
	}
}

// checkNormal reports a path or prefix that no normalized request path
// could ever match.
func checkNormal(p *problems, field, s string) {
	if !strings.HasPrefix(s, "/") {
		p.addf(field, "%q must start with /", s)
		return
	}
	n, err := NormalizePath(s)
	switch {
	case err != nil:
		p.addf(field, "%q is not a valid path: %w", s, err)
	case n != s:
		p.addf(field, "%q is not in normal form, so no request can match it: write %q", s, n)
	}
}

// conflictKey writes everything but the hosts that decides which requests
// the route matches: routes with equal keys on a host match the same ones.
func (r *route[T]) conflictKey() string {
	var b strings.Builder
	switch r.kind {
	case kindExact:
		b.WriteString("exact " + r.literal)
	case kindTemplate:
		b.WriteString("template " + r.tmpl.canonical())
	case kindPrefix, kindRegex:
		b.WriteString(r.pathText)
	}
	b.WriteString("\x00" + strings.Join(r.conds.methods, ","))
	for _, cs := range [][]valueCond{r.conds.headers, r.conds.query} {
		keys := make([]string, len(cs))
		for i := range cs {
			keys[i] = cs[i].String()
		}
		slices.Sort(keys)
		b.WriteString("\x00" + strings.Join(slices.Compact(keys), "\x01"))
	}
	return b.String()
}

var errHostHeader = errors.New("the host is matched by match.hosts, not by a header condition")

// compileConditions compiles methods, headers and query conditions.
func compileConditions(p *problems, m *configs.Match) conditions {
	var c conditions
	for i, meth := range m.Methods {
		if !isToken(meth) {
			p.addf(fmt.Sprintf("match.methods[%d]", i), "bad method %q", meth)
			continue
		}
		c.methods = append(c.methods, strings.ToUpper(meth))
	}
	slices.Sort(c.methods)
	c.methods = slices.Compact(c.methods)
	for i := range m.Headers {
		field := fmt.Sprintf("match.headers[%d]", i)
		name := m.Headers[i].Name
		switch {
		case !isToken(name):
			p.addf(field, "bad header name %q", name)
			continue
		case strings.EqualFold(name, "host"):
			p.add(field, errHostHeader)
			continue
		}
		if vc, err := compileValue(http.CanonicalHeaderKey(name), &m.Headers[i]); err != nil {
			p.add(field, err)
		} else {
			c.headers = append(c.headers, vc)
		}
	}
	for i := range m.Query {
		field := fmt.Sprintf("match.query[%d]", i)
		if m.Query[i].Name == "" {
			p.addf(field, "empty query parameter name")
			continue
		}
		if vc, err := compileValue(m.Query[i].Name, &m.Query[i]); err != nil {
			p.add(field, err)
		} else {
			c.query = append(c.query, vc)
		}
	}
	return c
}

// compileValue compiles one header or query condition named name.
func compileValue(name string, v *configs.ValueMatch) (valueCond, error) {
	absent := v.Present != nil && !*v.Present
	switch {
	case v.Value != "" && v.Regex != "":
		return valueCond{}, errors.New("value and regex cannot both be set")
	case absent && (v.Value != "" || v.Regex != ""):
		return valueCond{}, errors.New("present: false cannot be combined with value or regex")
	case absent:
		return valueCond{name: name, op: opAbsent}, nil
	case v.Value != "":
		return valueCond{name: name, op: opEqual, value: v.Value}, nil
	case v.Regex != "":
		re, err := compileWhole(v.Regex)
		if err != nil {
			return valueCond{}, fmt.Errorf("bad regex %q: %w", v.Regex, err)
		}
		return valueCond{name: name, op: opRegex, value: v.Regex, re: re}, nil
	}
	return valueCond{name: name, op: opPresent}, nil
}

// isToken reports whether s is an RFC 9110 token, as method and header
// names are.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}
