package route

import (
	"errors"
	"fmt"
)

// ErrBadPath is wrapped by every error of NormalizePath: the request path
// cannot be made safe to match, and the server answers 400.
var ErrBadPath = errors.New("bad request path")

// Byte classes of a request path, after RFC 3986 section 3.3.
const (
	clsEncode     = iota // not allowed raw in a path: written as %XX
	clsUnreserved        // ALPHA DIGIT - . _ ~ : never escaped
	clsPath              // sub-delims, ":", "@" and "/": kept raw
	clsControl           // NUL, other C0 controls and DEL: rejected
)

var byteClass = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		switch {
		case c < 0x20 || c == 0x7f:
			t[c] = clsControl
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
			t[c] = clsUnreserved
		}
	}
	for _, c := range []byte("-._~") {
		t[c] = clsUnreserved
	}
	for _, c := range []byte("!$&'()*+,;=:@/") {
		t[c] = clsPath
	}
	return t
}()

const upperHex = "0123456789ABCDEF"

// NormalizePath returns the normal form of an escaped request path (the
// path of the request target as sent, without the query), so that
// /admin/../secret, //secret, /%2e%2e/secret and /a/./b are matched as the
// paths they stand for and cannot slip past a protected route. In order:
//
//   - the path must start with "/";
//   - raw NUL, other control characters and DEL are rejected, and so are
//     their percent-escapes (%00-%1F, %7F) and malformed escapes;
//   - escapes of unreserved characters (ALPHA DIGIT - . _ ~) are decoded,
//     the other escapes are written with upper-case hex (%2F stays escaped
//     and is not a separator), and raw bytes that RFC 3986 does not allow
//     in a path (space, non-ASCII, "{", ...) are escaped;
//   - repeated slashes are merged and "." and ".." segments removed as in
//     RFC 3986 section 5.2.4, except that a ".." above the root is an
//     error rather than dropped.
//
// A path already in normal form is returned as is, without allocating.
// Every error wraps ErrBadPath. Safe for concurrent use.
func NormalizePath(p string) (string, error) {
	if isNormal(p) {
		return p, nil
	}
	if p == "" || p[0] != '/' {
		return "", fmt.Errorf("%w: %q does not start with /", ErrBadPath, p)
	}
	esc, err := normalizeEscapes(p)
	if err != nil {
		return "", err
	}
	return removeDots(esc)
}

// isNormal reports whether p is already what NormalizePath would return.
func isNormal(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	seg := 1 // start of the current segment
	for i := 1; i < len(p); i++ {
		switch c := p[i]; {
		case c == '/':
			if !plainSegment(p[seg:i]) || i == seg {
				return false
			}
			seg = i + 1
		case c == '%':
			if i+2 >= len(p) || !isUpperHex(p[i+1]) || !isUpperHex(p[i+2]) {
				return false
			}
			if cls := byteClass[unhex(p[i+1])<<4|unhex(p[i+2])]; cls == clsUnreserved || cls == clsControl {
				return false
			}
			i += 2
		case byteClass[c] != clsUnreserved && byteClass[c] != clsPath:
			return false
		}
	}
	return plainSegment(p[seg:])
}

// plainSegment reports whether s is not a dot segment.
func plainSegment(s string) bool { return s != "." && s != ".." }

// normalizeEscapes decodes escaped unreserved bytes, upper-cases the other
// escapes and escapes raw bytes that may not appear in a path.
func normalizeEscapes(p string) ([]byte, error) {
	out := make([]byte, 0, len(p)+8)
	for i := 0; i < len(p); i++ {
		c, escaped := p[i], false
		if c == '%' {
			if i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
				return nil, fmt.Errorf("%w: malformed escape at byte %d of %q", ErrBadPath, i, p)
			}
			c, escaped = unhex(p[i+1])<<4|unhex(p[i+2]), true
			i += 2
		}
		switch cls := byteClass[c]; {
		case cls == clsControl:
			return nil, fmt.Errorf("%w: control character 0x%02X in %q", ErrBadPath, c, p)
		case cls == clsUnreserved, cls == clsPath && !escaped:
			out = append(out, c)
		default: // escaped reserved bytes stay escaped; disallowed raw bytes get escaped
			out = append(out, '%', upperHex[c>>4], upperHex[c&15])
		}
	}
	return out, nil
}

// removeDots merges repeated slashes and resolves "." and ".." segments of
// p, which starts with "/" (RFC 3986 section 5.2.4).
func removeDots(p []byte) (string, error) {
	out := make([]byte, 1, len(p))
	out[0] = '/' // out ends with "/" between segments
	rest := p[1:]
	for {
		var seg []byte
		i := indexSlash(rest)
		more := i >= 0
		if more {
			seg, rest = rest[:i], rest[i+1:]
		} else {
			seg = rest
		}
		switch string(seg) {
		case "", ".":
		case "..":
			if len(out) == 1 {
				return "", fmt.Errorf("%w: %q climbs above the root", ErrBadPath, p)
			}
			out = out[:lastSlash(out[:len(out)-1])+1]
		default:
			out = append(out, seg...)
			if more {
				out = append(out, '/')
			}
		}
		if !more {
			return string(out), nil
		}
	}
}

func indexSlash(b []byte) int {
	for i, c := range b {
		if c == '/' {
			return i
		}
	}
	return -1
}

func lastSlash(b []byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '/' {
			return i
		}
	}
	return -1
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isUpperHex(c byte) bool { return '0' <= c && c <= '9' || 'A' <= c && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10
	}
	return 0
}
