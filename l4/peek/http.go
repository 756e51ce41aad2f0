package peek

import "fmt"

// h2Preface is the client connection preface (RFC 9113 3.4). Its first
// line reads like an HTTP/1 request line, so it is found through one.
const h2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// maxMethod bounds the method token: real ones are short, and junk that
// happens to start with a capital letter is refused early.
const maxMethod = 24

// http reads up to the first CRLF and decides between HTTP1, H2C and
// Unknown. The read stops as soon as a byte cannot be part of
// "method SP target SP HTTP/x.y CRLF" (RFC 9112 3).
func (p *peeker) http() (Hello, error) {
	var s lineScan
	for {
		switch s.scan(p.buf) {
		case lineBad:
			return Hello{}, nil
		case lineDone:
			return p.requestLine(&s)
		}
		if len(p.buf) >= p.max {
			return Hello{Proto: HTTP1}, fmt.Errorf("%w: no request line end in %d bytes", ErrTooLarge, p.max)
		}
		if err := p.readMore(); err != nil {
			return Hello{Proto: HTTP1}, err
		}
	}
}

// requestLine classifies a whole, well-formed request line.
func (p *peeker) requestLine(s *lineScan) (Hello, error) {
	method := p.buf[:s.sp1]
	target := p.buf[s.sp1+1 : s.sp2]
	version := string(p.buf[s.sp2+1 : s.pos-2])
	switch {
	case version == "HTTP/1.1" || version == "HTTP/1.0":
		return Hello{Proto: HTTP1, Method: methodName(method)}, nil
	case version == "HTTP/2.0" && string(method) == "PRI" && string(target) == "*":
		if p.max < len(h2Preface) {
			return Hello{Proto: H2C}, fmt.Errorf("%w: h2 preface needs %d bytes", ErrTooLarge, len(h2Preface))
		}
		if err := p.fill(len(h2Preface)); err != nil {
			return Hello{Proto: H2C}, err
		}
		if string(p.buf[:len(h2Preface)]) == h2Preface {
			return Hello{Proto: H2C}, nil
		}
	}
	return Hello{}, nil
}

// methodName returns the method as a string, without allocating for the
// methods of RFC 9110 9 and PATCH.
func methodName(b []byte) string {
	switch string(b) {
	case "GET":
		return "GET"
	case "HEAD":
		return "HEAD"
	case "POST":
		return "POST"
	case "PUT":
		return "PUT"
	case "PATCH":
		return "PATCH"
	case "DELETE":
		return "DELETE"
	case "CONNECT":
		return "CONNECT"
	case "OPTIONS":
		return "OPTIONS"
	case "TRACE":
		return "TRACE"
	}
	return string(b)
}

// Results of lineScan.scan.
const (
	lineMore = iota // need more bytes
	lineDone        // a whole request line; pos is just past its LF
	lineBad         // cannot be a request line
)

// States of lineScan.
const (
	inMethod = iota
	inTarget
	inVersion
	atLF
)

// lineScan checks a request line byte by byte as it arrives, resuming where
// it stopped, so a line sent one byte per segment still costs linear work.
type lineScan struct {
	pos   int // next byte to look at
	state int
	sp1   int // offset of the space after the method
	sp2   int // offset of the space after the target
}

func (s *lineScan) scan(b []byte) int {
	for ; s.pos < len(b); s.pos++ {
		c := b[s.pos]
		switch s.state {
		case inMethod:
			switch {
			case c == ' ' && s.pos > 0:
				s.sp1, s.state = s.pos, inTarget
			case !isTchar(c) || s.pos >= maxMethod:
				return lineBad
			}
		case inTarget:
			switch {
			case c == ' ' && s.pos > s.sp1+1:
				s.sp2, s.state = s.pos, inVersion
			case c <= ' ' || c == 0x7f:
				return lineBad
			}
		case inVersion:
			switch {
			case c == '\r' && isVersion(b[s.sp2+1:s.pos]):
				s.state = atLF
			case c == '\r' || s.pos-s.sp2 > len("HTTP/1.1"):
				return lineBad
			}
		case atLF:
			if c != '\n' {
				return lineBad
			}
			s.pos++
			return lineDone
		}
	}
	return lineMore
}

// isVersion matches HTTP-version: "HTTP/" DIGIT "." DIGIT.
func isVersion(v []byte) bool {
	return len(v) == 8 && string(v[:5]) == "HTTP/" && isDigit(v[5]) && v[6] == '.' && isDigit(v[7])
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// isTchar matches a token character (RFC 9110 5.6.2).
func isTchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', isDigit(c):
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}
