package route

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode"
)

// compileWhole compiles an RE2 expression that must match a whole value.
func compileWhole(expr string) (*regexp.Regexp, error) {
	if _, err := regexp.Compile(expr); err != nil {
		return nil, err // its own message, without the anchors added below
	}
	re, err := regexp.Compile("^(?:" + expr + ")$")
	if err != nil {
		return nil, fmt.Errorf("anchoring: %w", err)
	}
	return re, nil
}

// literalPrefix returns the text every string matching expr as a whole
// starts with, and whether expr matches only that text. Unlike
// regexp.LiteralPrefix it sees through a leading "^" and capture groups.
func literalPrefix(expr string) (string, bool) {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return "", false
	}
	var b strings.Builder
	complete := appendLiteral(&b, re)
	return b.String(), complete
}

// appendLiteral writes the literal text re starts with to b and reports
// whether re is nothing but that text.
func appendLiteral(b *strings.Builder, re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpEmptyMatch:
		return true
	case syntax.OpBeginText:
		return b.Len() == 0 // "^" is implied at the start; elsewhere it cannot match
	case syntax.OpCapture:
		return appendLiteral(b, re.Sub[0])
	case syntax.OpConcat:
		for _, sub := range re.Sub {
			if !appendLiteral(b, sub) {
				return false
			}
		}
		return true
	case syntax.OpLiteral:
		for _, r := range re.Rune {
			if re.Flags&syntax.FoldCase != 0 && unicode.SimpleFold(r) != r {
				return false // case-insensitive letters have no single literal form
			}
			b.WriteRune(r)
		}
		return true
	}
	return false
}
