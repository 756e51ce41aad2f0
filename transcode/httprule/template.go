package httprule

import "strings"

// Template is a parsed path template. It is immutable and safe for
// concurrent use.
type Template struct {
	segs   []segment
	verb   string // normalised, without ':'
	vars   []varSpan
	canon  string // String()
	shape  string // canonical form without variable names: the router key
	source string // as given to Parse
}

// Var is a variable of a template.
type Var struct {
	// FieldPath is the dotted field path as written, e.g. "book.name".
	FieldPath string
	// Multi reports a variable that may span segments: it covers several
	// segments or "**". Its value keeps "%2F" escaped.
	Multi bool
}

type segKind uint8

const (
	literalSeg segKind = iota // a fixed segment
	wildSeg                   // "*": one segment
	multiSeg                  // "**": zero or more segments, always last
)

type segment struct {
	kind segKind
	lit  string // normalised literal, for literalSeg
}

// varSpan is a variable over the segments [start, end) of its template.
type varSpan struct {
	Var
	start, end int
}

// String returns the canonical form of the template: literals normalised,
// {x=*} written {x}. Parsing it again gives the same String.
func (t *Template) String() string { return t.canon }

// Verb returns the custom verb without its ':', or "" if there is none.
func (t *Template) Verb() string { return t.verb }

// Vars returns the variables in order of appearance, in a new slice.
func (t *Template) Vars() []Var {
	out := make([]Var, len(t.vars))
	for i, v := range t.vars {
		out[i] = v.Var
	}
	return out
}

// finish computes the canonical form and the shape once parsing is done.
func (t *Template) finish() {
	var canon, shape strings.Builder
	for _, s := range t.segs {
		shape.WriteString("/" + s.text())
	}
	i := 0
	for _, v := range t.vars {
		for ; i < v.start; i++ {
			canon.WriteString("/" + t.segs[i].text())
		}
		canon.WriteString("/{" + v.FieldPath)
		if v.end-v.start != 1 || t.segs[v.start].kind != wildSeg {
			sep := "="
			for j := v.start; j < v.end; j++ {
				canon.WriteString(sep + t.segs[j].text())
				sep = "/"
			}
		}
		canon.WriteByte('}')
		i = v.end
	}
	for ; i < len(t.segs); i++ {
		canon.WriteString("/" + t.segs[i].text())
	}
	if len(t.segs) == 0 {
		canon.WriteByte('/')
		shape.WriteByte('/')
	}
	if t.verb != "" {
		canon.WriteString(":" + t.verb)
		shape.WriteString(":" + t.verb)
	}
	t.canon, t.shape = canon.String(), shape.String()
}

// text is the segment as written in a canonical template.
func (s segment) text() string {
	switch s.kind {
	case wildSeg:
		return "*"
	case multiSeg:
		return "**"
	}
	return s.lit
}
