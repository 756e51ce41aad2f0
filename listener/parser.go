package listener

// parser is an incremental RFC 9112 request-stream validator. It sees the
// bytes of a connection exactly once, in the order they arrive, in slices of
// any size, and keeps only a few counters and the values of the framing
// fields it must compare (Content-Length, Transfer-Encoding, Connection,
// Upgrade): no request head is copied. Body bytes are skipped in bulk; only
// chunk-size lines and trailers are looked at.
//
// A parser is owned by one strictConn and used under its read lock.
type parser struct {
	max   int   // largest head (and trailer section) in bytes
	state uint8 // one of the st* constants
	size  int   // bytes of the current head or trailer section

	// Request line.
	targetLen int
	verIdx    int // bytes of "HTTP/1.x" matched; in stNotHTTP, of "http/"
	minor     byte
	sawHTTP   bool // stNotHTTP: "http/" (any case) came after the target

	// Current field line.
	name    [20]byte // lower-cased prefix of the name; the known names fit
	nameLen int
	field   uint8
	val     [128]byte // value of a known field
	valLen  int

	// Framing facts of the current request.
	hasCL       bool
	cl          int64
	clDigits    int
	teCount     int
	hosts       int
	connUpgrade bool
	upgradeHdr  bool
	trailer     bool

	// Body.
	remaining int64 // Content-Length or chunk bytes still to skip
	digits    int   // hex digits of the current chunk size
	lineLen   int   // bytes of the current chunk-size line

	// Results for the connection.
	headStart   int  // offset of the current head in the slice being fed, or -1
	upgradeWait bool // the last complete request asked for an upgrade and nothing followed yet
	requests    int  // complete requests seen
}

const (
	stReqStart uint8 = iota
	stMethod
	stTarget
	stVersion
	stNotHTTP    // the version does not start with HTTP/: read to the end of the line, then decide
	stLineLF     // CR seen at the end of a head line
	stFieldStart // start of a field line, or of the final empty line
	stName
	stValue
	stEndLF // CR of the empty line that ends a head or trailer section
	stBodyCL
	stChunkSize
	stChunkExt
	stChunkSizeLF
	stChunkData
	stChunkDataCR
	stChunkDataLF
)

const (
	fieldOther uint8 = iota
	fieldCL
	fieldTE
	fieldHost
	fieldConnection
	fieldUpgrade
)

// maxContentLengthDigits keeps Content-Length within int64.
const maxContentLengthDigits = 18

func newParser(maxHead int) parser {
	return parser{max: maxHead}
}

// feed validates b, the next bytes of the stream. It returns how many leading
// bytes of b may be passed on. On a violation it also returns the violation
// and whether it was in a request head (the request never reached the
// server); the parser must not be fed again after that.
func (p *parser) feed(b []byte) (int, *Violation, bool) {
	p.headStart = -1
	for i := 0; i < len(b); {
		switch p.state {
		case stBodyCL, stChunkData:
			n := min(int64(len(b)-i), p.remaining)
			i += int(n)
			p.remaining -= n
			if p.remaining == 0 {
				p.endData()
			}
			continue
		}
		if j := p.skipPlain(b, i); j > i {
			i = j
			continue
		}
		inHead := p.state <= stEndLF && !p.trailer
		if v := p.step(b[i], i); v != nil {
			if !inHead {
				return i, v, false
			}
			return max(p.headStart, 0), v, true
		}
		i++
	}
	return len(b), nil, false
}

// skipPlain returns the end of the run of bytes from b[i] that need no
// per-byte state change: the bulk of a request target or of a field value
// that is not a framing field. It never skips past the head-size limit, so
// the byte that crosses it is stepped and reported.
func (p *parser) skipPlain(b []byte, i int) int {
	var ok *[256]bool
	switch {
	case p.state == stName:
		return p.skipName(b, i)
	case p.state == stValue && p.field == fieldOther:
		ok = &valueChars
	case p.state == stTarget:
		ok = &targetChars
	default:
		return i
	}
	end := min(len(b), i+p.max-p.size)
	j := i
	for j < end && ok[b[j]] {
		j++
	}
	p.size += j - i
	if p.state == stTarget {
		p.targetLen += j - i
	}
	return j
}

func (p *parser) skipName(b []byte, i int) int {
	end := min(len(b), i+p.max-p.size)
	j := i
	for j < end && tokenChars[b[j]] {
		p.addName(b[j])
		j++
	}
	p.size += j - i
	return j
}

// midHead reports whether the bytes fed so far end inside a request head;
// the head began at offset headStart of the last slice fed, or before it
// when headStart is -1.
func (p *parser) midHead() bool {
	return p.state > stReqStart && p.state <= stEndLF && !p.trailer
}

func (p *parser) step(c byte, i int) *Violation {
	switch p.state {
	case stReqStart, stMethod, stTarget, stVersion, stNotHTTP:
		return p.stepRequestLine(c, i)
	case stLineLF, stFieldStart, stName, stValue, stEndLF:
		return p.stepField(c)
	default:
		return p.stepChunk(c)
	}
}

// stepRequestLine checks request-line = method SP request-target SP
// HTTP-version CRLF (RFC 9112 3), with single spaces and nothing else.
func (p *parser) stepRequestLine(c byte, i int) *Violation {
	if p.size++; p.size > p.max {
		return errHeadTooLarge
	}
	if p.state == stNotHTTP {
		return p.stepNotHTTP(c)
	}
	if c == '\n' {
		return errBareLF
	}
	switch p.state {
	case stReqStart:
		p.headStart, p.upgradeWait = i, false
		if c == '\r' {
			return errEmptyLine
		}
		if !isToken(c) {
			return errMethod
		}
		p.state = stMethod
	case stMethod:
		if c == ' ' {
			p.state = stTarget
		} else if !isToken(c) {
			return errMethod
		}
	case stTarget:
		if c == ' ' {
			if p.targetLen == 0 {
				return errRequestLine
			}
			p.state = stVersion
			return nil
		}
		if c < '!' || c > '~' {
			return errTarget
		}
		p.targetLen++
	case stVersion:
		return p.stepVersion(c)
	}
	return nil
}

func (p *parser) stepVersion(c byte) *Violation {
	const prefix = "HTTP/1."
	switch {
	case p.verIdx < len(prefix):
		if c != prefix[p.verIdx] {
			if p.verIdx < len("HTTP/") {
				p.state, p.verIdx = stNotHTTP, 0
				return p.stepNotHTTP(c)
			}
			return errVersion
		}
	case p.verIdx == len(prefix):
		if c < '0' || c > '9' {
			return errVersion
		}
		p.minor = c - '0'
	case c == '\r':
		p.state = stLineLF
	default:
		return errVersion
	}
	p.verIdx++
	return nil
}

// stepNotHTTP reads the rest of a request line whose version does not
// start with "HTTP/". If "http/" in any case follows somewhere (a space in
// the target, a lower-case version), the client speaks HTTP and gets a 400;
// otherwise the bytes are not HTTP/1.x and the connection is closed without
// a response. Bounded by the head size limit like any head byte.
func (p *parser) stepNotHTTP(c byte) *Violation {
	const h = "http/"
	switch lc := c | 0x20; {
	case c == '\r' || c == '\n':
		if p.sawHTTP {
			return errRequestLine
		}
		return errNotHTTP
	case lc == h[p.verIdx]:
		if p.verIdx++; p.verIdx == len(h) {
			p.sawHTTP, p.verIdx = true, 0
		}
	case lc == 'h':
		p.verIdx = 1
	default:
		p.verIdx = 0
	}
	return nil
}

// stepField checks field-line = field-name ":" OWS field-value OWS CRLF
// (RFC 9112 5), for head fields and for trailer fields alike.
func (p *parser) stepField(c byte) *Violation {
	if p.size++; p.size > p.max {
		if p.trailer {
			return errTrailerLarge
		}
		return errHeadTooLarge
	}
	switch p.state {
	case stLineLF:
		if c != '\n' {
			return errBareCR
		}
		p.state = stFieldStart
	case stFieldStart:
		return p.stepFieldStart(c)
	case stName:
		return p.stepName(c)
	case stValue:
		return p.stepValue(c)
	case stEndLF:
		if c != '\n' {
			return errBareCR
		}
		if p.trailer {
			p.endRequest()
			return nil
		}
		return p.endHead()
	}
	return nil
}

func (p *parser) stepFieldStart(c byte) *Violation {
	switch {
	case c == '\r':
		p.state = stEndLF
	case c == ' ' || c == '\t':
		return errObsFold
	case c == '\n':
		return errBareLF
	case c == ':':
		return errEmptyName
	case isToken(c):
		p.nameLen = 0
		p.addName(c)
		p.state = stName
	default:
		return errFieldName
	}
	return nil
}

func (p *parser) stepName(c byte) *Violation {
	switch {
	case isToken(c):
		p.addName(c)
	case c == ':':
		p.field, p.valLen, p.state = p.knownField(), 0, stValue
	case c == ' ' || c == '\t':
		return errNameSpace
	case c == '\n':
		return errBareLF
	case c == '\r':
		return errNoColon
	default:
		return errFieldName
	}
	return nil
}

func (p *parser) stepValue(c byte) *Violation {
	switch {
	case c == '\r':
		p.state = stLineLF
		return p.endField()
	case c == '\n':
		return errBareLF
	case c < ' ' && c != '\t', c == 0x7f:
		return errValueCtl
	}
	if p.field != fieldOther {
		if p.valLen == len(p.val) {
			return p.longValue()
		}
		p.val[p.valLen] = c
		p.valLen++
	}
	return nil
}

func (p *parser) addName(c byte) {
	if p.nameLen < len(p.name) {
		p.name[p.nameLen] = lower(c)
	}
	p.nameLen++
}

// knownField classifies the field just named. The switch on a converted
// byte slice does not allocate.
func (p *parser) knownField() uint8 {
	if p.trailer || p.nameLen > len(p.name) {
		return fieldOther
	}
	switch string(p.name[:p.nameLen]) {
	case "content-length":
		return fieldCL
	case "transfer-encoding":
		return fieldTE
	case "host":
		return fieldHost
	case "connection":
		return fieldConnection
	case "upgrade":
		return fieldUpgrade
	}
	return fieldOther
}

// longValue handles a known field whose value does not fit p.val: a framing
// field that long is malformed; a long Connection or Upgrade keeps its
// prefix, which can only make an upgrade less likely (validation goes on).
func (p *parser) longValue() *Violation {
	switch p.field {
	case fieldCL:
		return errCLInvalid
	case fieldTE:
		return errTEValue
	}
	return nil
}
