package proxy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/bouncer-proxy/bouncer/l7/internal/hdrkey"
	"golang.org/x/net/http/httpguts"
)

// maxHeadBytes bounds one response head, its 1xx heads included, and one
// trailer block.
const maxHeadBytes = 1 << 20

var (
	errMalformedHead = errors.New("proxy: malformed response head from upstream")
	errHeadTooLarge  = errors.New("proxy: upstream response head over 1 MiB")
	errAmbiguousBody = errors.New("proxy: ambiguous response framing from upstream")
)

// readBlock appends the lines of one head or trailer block from br to buf,
// up to and excluding the empty line that ends it. It fails with io.EOF
// when the connection ended before any byte, io.ErrUnexpectedEOF when it
// ended inside the block, and errHeadTooLarge past limit bytes.
func readBlock(br *bufio.Reader, buf []byte, limit int) ([]byte, error) {
	lineStart, start := len(buf), len(buf)
	for {
		frag, err := br.ReadSlice('\n')
		if len(buf)-start+len(frag) > limit {
			return buf, errHeadTooLarge
		}
		buf = append(buf, frag...)
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err == io.EOF && len(buf) == start:
			return buf, io.EOF
		case err == io.EOF:
			return buf, io.ErrUnexpectedEOF
		case err != nil:
			return buf, err
		}
		if line := buf[lineStart:]; len(line) == 1 || (len(line) == 2 && line[0] == '\r') {
			return buf[:lineStart], nil
		}
		lineStart = len(buf)
	}
}

// cutLine splits s after its first line; the line loses its CRLF or LF.
func cutLine(s string) (line, rest string) {
	i := strings.IndexByte(s, '\n')
	if i < 0 {
		line, rest = s, ""
	} else {
		line, rest = s[:i], s[i+1:]
	}
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, rest
}

// statusLine is a parsed "HTTP/1.x NNN reason" line.
type statusLine struct {
	minor  int    // 0 or 1
	code   int    // 100..999
	status string // "NNN reason", as net/http's Response.Status
}

// parseStatusLine accepts HTTP/1.0 and HTTP/1.1 status lines with a
// three-digit code and a reason free of control characters (RFC 9112 4).
func parseStatusLine(line string) (statusLine, error) {
	var sl statusLine
	if len(line) < 12 || line[:7] != "HTTP/1." || line[8] != ' ' || (line[7] != '0' && line[7] != '1') {
		return sl, fmt.Errorf("%w: bad status line", errMalformedHead)
	}
	sl.minor = int(line[7] - '0')
	for _, d := range []byte(line[9:12]) {
		if d < '0' || d > '9' {
			return sl, fmt.Errorf("%w: bad status code", errMalformedHead)
		}
		sl.code = sl.code*10 + int(d-'0')
	}
	if sl.code < 100 || (len(line) > 12 && line[12] != ' ') || !validText(line[12:]) {
		return sl, fmt.Errorf("%w: bad status line", errMalformedHead)
	}
	sl.status = line[9:]
	return sl, nil
}

// validText reports whether s has no control characters but tab.
func validText(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// parseFields adds the field lines of block to h, slicing values from
// vals (one slot per line). Obsolete line folding, whitespace before the
// colon, bad names and values with control characters are errors
// (RFC 9112 5.1 and 5.2).
func parseFields(block string, h http.Header, vals []string) error {
	for block != "" {
		var line string
		line, block = cutLine(block)
		if line == "" || line[0] == ' ' || line[0] == '\t' {
			return fmt.Errorf("%w: folded or empty field line", errMalformedHead)
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || !httpguts.ValidHeaderFieldName(name) {
			return fmt.Errorf("%w: bad field name", errMalformedHead)
		}
		value = strings.Trim(value, " \t")
		if !httpguts.ValidHeaderFieldValue(value) {
			return fmt.Errorf("%w: bad field value", errMalformedHead)
		}
		key := hdrkey.Canonical(name)
		if old, ok := h[key]; ok {
			h[key] = append(old, value)
			continue
		}
		vals[0] = value
		h[key], vals = vals[:1:1], vals[1:]
	}
	return nil
}
