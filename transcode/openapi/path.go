package openapi

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/bouncer-proxy/bouncer/transcode/httprule"
)

// pathVar is one parameter of an OpenAPI path: a template variable or an
// anonymous wildcard.
type pathVar struct {
	name      string // parameter name in the OpenAPI path
	fieldPath string // the variable's field path; "" for a wildcard
	pattern   string // the value's form; "" for one plain segment
	multi     bool   // may hold '/'
}

// splitPath is a template taken apart for OpenAPI: its top-level segments
// (literals kept, a variable or wildcard as a pathVar) and its verb.
type splitPath struct {
	parts []string // literal segments; "" where vars[i] goes
	slot  []int    // for each part, the index in vars or -1
	vars  []pathVar
	verb  string
}

// split parses the canonical form of t (httprule.Template.String): "/"
// separated segments, where a "{...}" segment may itself hold '/'.
func split(t *httprule.Template) splitPath {
	sp := splitPath{verb: t.Verb()}
	multi := map[string]bool{}
	for _, v := range t.Vars() {
		multi[v.FieldPath] = v.Multi
	}
	s := strings.TrimPrefix(t.String(), "/")
	if sp.verb != "" {
		s = strings.TrimSuffix(s, ":"+sp.verb)
	}
	for i, seg := range topSegments(s) {
		switch {
		case strings.HasPrefix(seg, "{"):
			fp, pat, ok := strings.Cut(strings.TrimSuffix(strings.TrimPrefix(seg, "{"), "}"), "=")
			if !ok {
				pat = "*"
			}
			v := pathVar{name: fp, fieldPath: fp, multi: multi[fp]}
			if pat != "*" {
				v.pattern = segmentsRegexp(strings.Split(pat, "/"))
			}
			sp.add(v)
		case seg == "*" || seg == "**":
			sp.add(pathVar{name: "_segment" + strconv.Itoa(i+1), multi: seg == "**"})
		default:
			sp.parts = append(sp.parts, seg)
			sp.slot = append(sp.slot, -1)
		}
	}
	return sp
}

func (sp *splitPath) add(v pathVar) {
	sp.parts = append(sp.parts, "")
	sp.slot = append(sp.slot, len(sp.vars))
	sp.vars = append(sp.vars, v)
}

// topSegments splits s on the '/' outside braces.
func topSegments(s string) []string {
	if s == "" {
		return nil
	}
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '{':
			depth++
		case '}':
			depth--
		case '/':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// segmentsRegexp is an anchored regular expression for the value of a
// variable over segs ("shelves", "*", "**"): "**", always last, takes zero
// or more further segments.
func segmentsRegexp(segs []string) string {
	var b strings.Builder
	b.WriteByte('^')
	for i, seg := range segs {
		switch {
		case seg == "**" && i == 0:
			b.WriteString(".*")
		case seg == "**":
			b.WriteString("(/.*)?")
		default:
			if i > 0 {
				b.WriteByte('/')
			}
			if seg == "*" {
				b.WriteString("[^/]+")
			} else {
				b.WriteString(regexp.QuoteMeta(seg))
			}
		}
	}
	b.WriteByte('$')
	return b.String()
}

// render writes the OpenAPI path, every parameter name followed by suffix.
func (sp splitPath) render(suffix string) string {
	var b strings.Builder
	for i, p := range sp.parts {
		b.WriteByte('/')
		if sp.slot[i] < 0 {
			b.WriteString(p)
			continue
		}
		b.WriteString("{" + sp.vars[sp.slot[i]].name + suffix + "}")
	}
	if len(sp.parts) == 0 {
		b.WriteByte('/')
	}
	if sp.verb != "" {
		b.WriteString(":" + sp.verb)
	}
	return b.String()
}

// withSuffix answers the vars renamed with suffix.
func (sp splitPath) withSuffix(suffix string) []pathVar {
	out := make([]pathVar, len(sp.vars))
	for i, v := range sp.vars {
		v.name += suffix
		out[i] = v
	}
	return out
}
