package httprule

import (
	"errors"
	"strings"
)

// ErrBadEscape is wrapped by the error Lookup returns for a path holding a
// '%' that is not followed by two hex digits (the caller answers 400).
var ErrBadEscape = errors.New("malformed percent-escape")

const upperHex = "0123456789ABCDEF"

// unhex returns the value of the hex digit c.
func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// isUnreserved reports the unreserved characters of RFC 3986 section 2.3.
func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// isLiteralByte reports the characters a template literal may hold as they
// are: unreserved and the sub-delims but '*', which is the wildcard.
func isLiteralByte(c byte) bool {
	return isUnreserved(c) || strings.IndexByte("!$&'()+,;=", c) >= 0
}

// escapeAt decodes the escape starting at s[i] ('%'), reporting whether it
// is well formed.
func escapeAt(s string, i int) (byte, bool) {
	if i+2 >= len(s) {
		return 0, false
	}
	hi, ok1 := unhex(s[i+1])
	lo, ok2 := unhex(s[i+2])
	return hi<<4 | lo, ok1 && ok2
}

// badEscape returns the offset of the first malformed escape in s, or -1.
func badEscape(s string) int {
	for i := strings.IndexByte(s, '%'); i >= 0; {
		if _, ok := escapeAt(s, i); !ok {
			return i
		}
		j := strings.IndexByte(s[i+3:], '%')
		if j < 0 {
			break
		}
		i += 3 + j
	}
	return -1
}

// normalize returns the normal form of a literal with valid escapes:
// escapes of unreserved characters decoded, other escapes upper-cased.
func normalize(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		d, _ := escapeAt(s, i)
		if isUnreserved(d) {
			b.WriteByte(d)
		} else {
			b.WriteByte('%')
			b.WriteByte(upperHex[d>>4])
			b.WriteByte(upperHex[d&15])
		}
		i += 2
	}
	return b.String()
}

// literalEq reports whether the escaped path segment seg, whose escapes are
// valid, equals the normalised literal lit. It does not allocate.
func literalEq(lit, seg string) bool {
	j := 0
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		if c != '%' {
			if j >= len(lit) || lit[j] != c {
				return false
			}
			j++
			continue
		}
		d, _ := escapeAt(seg, i)
		i += 2
		if isUnreserved(d) {
			if j >= len(lit) || lit[j] != d {
				return false
			}
			j++
			continue
		}
		if j+3 > len(lit) || lit[j] != '%' || lit[j+1] != upperHex[d>>4] || lit[j+2] != upperHex[d&15] {
			return false
		}
		j += 3
	}
	return j == len(lit)
}

// decodedLen is the length of s, whose escapes are valid, once decoded;
// keepSlash counts "%2F" and "%2f" as left escaped.
func decodedLen(s string, keepSlash bool) int {
	n := len(s)
	for i := strings.IndexByte(s, '%'); i >= 0 && i < len(s); i++ {
		if s[i] != '%' {
			continue
		}
		if d, _ := escapeAt(s, i); !keepSlash || d != '/' {
			n -= 2
		}
		i += 2
	}
	return n
}

// writeDecoded writes s, whose escapes are valid, decoded to b; keepSlash
// leaves "%2F" and "%2f" as they are.
func writeDecoded(b *strings.Builder, s string, keepSlash bool) {
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		d, _ := escapeAt(s, i)
		if keepSlash && d == '/' {
			b.WriteString(s[i : i+3])
		} else {
			b.WriteByte(d)
		}
		i += 2
	}
}
