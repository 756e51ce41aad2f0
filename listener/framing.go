package listener

import "bytes"

// maxChunkLine bounds a chunk-size line; net/http refuses 4096 bytes and more.
const maxChunkLine = 4000

// maxChunkSize keeps chunk sizes far from overflowing int64.
const maxChunkSize = 1 << 60

// endField records a complete field line of the head.
func (p *parser) endField() *Violation {
	v := trimOWS(p.val[:p.valLen])
	switch p.field {
	case fieldCL:
		n, ok := parseDigits(v)
		if !ok {
			return errCLInvalid
		}
		// Repeats are allowed only when identical (RFC 9112 6.3, item 5);
		// equal value and digit count means equal text, as net/http wants.
		if p.hasCL && (n != p.cl || len(v) != p.clDigits) {
			return errCLDiffer
		}
		p.hasCL, p.cl, p.clDigits = true, n, len(v)
	case fieldTE:
		// Only "chunked", once: a proxy cannot decode other codings, and a
		// list or a repeat is where front and back ends disagree.
		if p.teCount++; p.teCount > 1 {
			return errTEDup
		}
		if !equalFold(v, "chunked") {
			return errTEValue
		}
	case fieldHost:
		if p.hosts++; p.hosts > 1 {
			return errHostDup
		}
	case fieldConnection:
		p.connUpgrade = p.connUpgrade || hasToken(v, "upgrade")
	case fieldUpgrade:
		p.upgradeHdr = p.upgradeHdr || len(v) > 0
	}
	return nil
}

// endHead applies the whole-head rules and sets up body framing
// (RFC 9112 6.3).
func (p *parser) endHead() *Violation {
	switch {
	case p.teCount > 0 && p.hasCL:
		return errTEAndCL
	case p.teCount > 0 && p.minor == 0:
		return errTE10
	case p.minor >= 1 && p.hosts == 0:
		return errNoHost
	}
	switch {
	case p.teCount > 0:
		p.state, p.remaining, p.digits, p.lineLen = stChunkSize, 0, 0, 0
	case p.cl > 0:
		p.state, p.remaining = stBodyCL, p.cl
	default:
		p.endRequest()
	}
	return nil
}

// endData runs when the bytes of a Content-Length body or of a chunk have all
// been skipped.
func (p *parser) endData() {
	if p.state == stChunkData {
		p.state = stChunkDataCR
		return
	}
	p.endRequest()
}

// endRequest resets the per-request state; the next byte starts a new head.
func (p *parser) endRequest() {
	upgrade := p.connUpgrade && p.upgradeHdr
	*p = parser{max: p.max, headStart: p.headStart, requests: p.requests + 1, upgradeWait: upgrade}
}

// stepChunk checks chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
// (RFC 9112 7.1). Like net/http, no whitespace is allowed after the size.
func (p *parser) stepChunk(c byte) *Violation {
	switch p.state {
	case stChunkSize, stChunkExt:
		if p.lineLen++; p.lineLen > maxChunkLine {
			return errChunkLine
		}
		if p.state == stChunkExt {
			return p.stepChunkExt(c)
		}
		return p.stepChunkSize(c)
	case stChunkSizeLF:
		if c != '\n' {
			return errBareCR
		}
		if p.remaining == 0 {
			// last-chunk: a trailer section follows, bounded like a head.
			p.trailer, p.size, p.state = true, 0, stFieldStart
		} else {
			p.state = stChunkData
		}
	case stChunkDataCR:
		if c != '\r' {
			return errChunkData
		}
		p.state = stChunkDataLF
	case stChunkDataLF:
		if c != '\n' {
			return errChunkData
		}
		p.state, p.digits, p.lineLen = stChunkSize, 0, 0
	}
	return nil
}

func (p *parser) stepChunkSize(c byte) *Violation {
	if h, ok := unhex(c); ok {
		if p.digits++; p.digits > 16 || p.remaining > maxChunkSize>>4 {
			return errChunkSize
		}
		p.remaining = p.remaining<<4 | int64(h)
		return nil
	}
	switch {
	case p.digits == 0:
		return errChunkSize
	case c == ';':
		p.state = stChunkExt
	case c == '\r':
		p.state = stChunkSizeLF
	case c == '\n':
		return errBareLF
	default:
		return errChunkSize
	}
	return nil
}

// stepChunkExt accepts any extension text without control characters: its
// grammar does not matter for framing since the line can only end at CRLF.
func (p *parser) stepChunkExt(c byte) *Violation {
	switch {
	case c == '\r':
		p.state = stChunkSizeLF
	case c == '\n':
		return errBareLF
	case c < ' ' && c != '\t', c == 0x7f:
		return errChunkExt
	}
	return nil
}

// tokenChars marks tchar (RFC 9110 5.6.2).
var tokenChars = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

func isToken(c byte) bool { return tokenChars[c] }

// valueChars marks field-vchar, SP and HTAB (RFC 9110 5.5): no CTL, no DEL.
// targetChars marks the visible ASCII a request target may hold.
var valueChars, targetChars = func() (v, t [256]bool) {
	for c := range 256 {
		v[c] = c == '\t' || (c >= ' ' && c != 0x7f)
		t[c] = c > ' ' && c < 0x7f
	}
	return v, t
}()

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

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

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// parseDigits parses 1*DIGIT that fits an int64.
func parseDigits(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > maxContentLengthDigits {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func equalFold(b []byte, lowerWord string) bool {
	if len(b) != len(lowerWord) {
		return false
	}
	for i := range b {
		if lower(b[i]) != lowerWord[i] {
			return false
		}
	}
	return true
}

// hasToken reports whether the comma-separated list v holds lowerWord.
func hasToken(v []byte, lowerWord string) bool {
	for {
		item, rest, more := bytes.Cut(v, comma)
		if equalFold(trimOWS(item), lowerWord) {
			return true
		}
		if !more {
			return false
		}
		v = rest
	}
}

var comma = []byte{','}
