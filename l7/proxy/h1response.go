package proxy

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/bouncer-proxy/bouncer/l7/internal/hdrkey"
	"golang.org/x/net/http/httpguts"
)

// h1Response is a response and its body in one allocation.
type h1Response struct {
	res  http.Response
	body h1Body
}

// bodyKind says how a response body is delimited (RFC 9112 6.3).
type bodyKind uint8

const (
	bodyNone    bodyKind = iota
	bodyFixed            // Content-Length bytes
	bodyChunked          // chunked transfer coding, then trailers
	bodyClose            // until the upstream closes the connection
)

// chunkedTE is res.TransferEncoding of chunked responses; its capacity is
// its length, so an append by a caller copies it.
var chunkedTE = []string{"chunked"}

// newResponse builds the response to req from its head: sl and the field
// lines. keep reports whether the connection may carry another exchange
// once the body has ended.
func newResponse(req *http.Request, sl statusLine, fields string) (x *h1Response, keep bool, err error) {
	x = &h1Response{}
	res := &x.res
	res.Status, res.StatusCode = sl.status, sl.code
	res.Proto, res.ProtoMajor, res.ProtoMinor = "HTTP/1.1", 1, sl.minor
	if sl.minor == 0 {
		res.Proto = "HTTP/1.0"
	}
	n := strings.Count(fields, "\n")
	res.Header = make(http.Header, n)
	if err := parseFields(fields, res.Header, make([]string, n)); err != nil {
		return nil, false, err
	}
	res.Request = req
	f, err := framing(res, req.Method)
	if err != nil {
		return nil, false, err
	}
	keep = f.kind != bodyClose && !f.stray && !req.Close && keepAlive(res.Header, sl.minor)
	res.Close = !keep
	res.ContentLength = f.length
	x.body.kind = f.kind
	switch f.kind {
	case bodyFixed:
		x.body.left = f.length
	case bodyChunked:
		announceTrailers(res)
	}
	return x, keep, nil
}

// bodyFraming is how a response body is delimited.
type bodyFraming struct {
	kind   bodyKind
	length int64 // res.ContentLength: -1 when unknown
	stray  bool  // a bodiless status came with body framing: do not reuse the connection
}

// framing decides the body's length (RFC 9112 6.3). Transfer-Encoding
// with Content-Length, on HTTP/1.0, or other than a plain "chunked" is
// refused rather than guessed at (request smuggling, RFC 9112 6.1).
func framing(res *http.Response, method string) (bodyFraming, error) {
	h := res.Header
	te, hasTE := h["Transfer-Encoding"]
	length, hasCL, err := contentLength(h)
	if err != nil {
		return bodyFraming{}, err
	}
	if hasTE {
		if hasCL || res.ProtoMinor == 0 || len(te) != 1 || !strings.EqualFold(te[0], "chunked") {
			return bodyFraming{}, fmt.Errorf("%w: transfer-encoding %q", errAmbiguousBody, te)
		}
		delete(h, "Transfer-Encoding")
		res.TransferEncoding = chunkedTE
	}
	code := res.StatusCode
	switch {
	case method == http.MethodHead:
		return bodyFraming{kind: bodyNone, length: length}, nil
	case code < 200 || code == http.StatusNoContent || code == http.StatusNotModified:
		return bodyFraming{kind: bodyNone, stray: hasTE || length > 0}, nil
	case hasTE:
		return bodyFraming{kind: bodyChunked, length: -1}, nil
	case hasCL && length == 0:
		return bodyFraming{kind: bodyNone}, nil
	case hasCL:
		return bodyFraming{kind: bodyFixed, length: length}, nil
	}
	return bodyFraming{kind: bodyClose, length: -1}, nil
}

// contentLength parses Content-Length; repeated equal values ("42, 42")
// are folded into one, differing ones are an error (RFC 9110 8.6).
func contentLength(h http.Header) (int64, bool, error) {
	vv, ok := h["Content-Length"]
	if !ok {
		return -1, false, nil
	}
	n := int64(-1)
	for _, v := range vv {
		for part := range strings.SplitSeq(v, ",") {
			m, ok := parseDecimal(strings.Trim(part, " \t"))
			if !ok || (n >= 0 && m != n) {
				return 0, false, fmt.Errorf("%w: content-length %q", errAmbiguousBody, vv)
			}
			n = m
		}
	}
	if len(vv) > 1 || strings.IndexByte(vv[0], ',') >= 0 {
		h["Content-Length"] = []string{strconv.FormatInt(n, 10)}
	}
	return n, true, nil
}

// parseDecimal parses 1 to 18 ASCII digits.
func parseDecimal(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// keepAlive reports whether the upstream lets the connection stay open:
// HTTP/1.1 unless "Connection: close", HTTP/1.0 only with "keep-alive".
func keepAlive(h http.Header, minor int) bool {
	conn := h["Connection"]
	if httpguts.HeaderValuesContainsToken(conn, "close") {
		return false
	}
	return minor == 1 || httpguts.HeaderValuesContainsToken(conn, "keep-alive")
}

// announceTrailers moves the Trailer field of a chunked response into
// res.Trailer keys with nil values, as net/http does; framing fields are
// never trailers.
func announceTrailers(res *http.Response) {
	vv, ok := res.Header["Trailer"]
	if !ok {
		return
	}
	delete(res.Header, "Trailer")
	res.Trailer = make(http.Header, len(vv))
	for _, v := range vv {
		for k := range strings.SplitSeq(v, ",") {
			k = strings.Trim(k, " \t")
			if !httpguts.ValidHeaderFieldName(k) {
				continue
			}
			if k = hdrkey.Canonical(k); !framingField(k) {
				res.Trailer[k] = nil
			}
		}
	}
}

// framingField reports whether a field name may not appear as a trailer.
func framingField(k string) bool {
	return k == "Content-Length" || k == "Transfer-Encoding" || k == "Trailer"
}
