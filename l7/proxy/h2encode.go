package proxy

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// HPACK encoding of request headers for the HTTP/2 upstream client.
//
// Every field is sent as a literal that is never added to the dynamic
// table (RFC 7541 6.2.2 and 6.2.3): an upstream request carries values
// unique to it (request id, forwarded-for, grpc-timeout), and indexing
// them costs a table insert and an eviction per request for no gain on a
// connection to a nearby backend. Pseudo-header names come from the static
// table; strings are written raw, not Huffman coded. The encoder holds no
// state, so requests are encoded concurrently, outside the connection's
// write lock.

// Static table indexes (RFC 7541 Appendix A) used by the encoder.
const (
	hpackAuthority  = 1
	hpackMethodGET  = 2
	hpackMethodPOST = 3
	hpackPath       = 4
	hpackSchemeHTTP = 6
	hpackSchemeTLS  = 7
)

// hpackInt appends v with an n-bit prefix whose other bits are first
// (RFC 7541 5.1).
func hpackInt(dst []byte, first byte, n uint, v uint64) []byte {
	limit := uint64(1)<<n - 1
	if v < limit {
		return append(dst, first|byte(v))
	}
	dst = append(dst, first|byte(limit))
	v -= limit
	for v >= 128 {
		dst = append(dst, byte(v&0x7f)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

// hpackString appends s as a raw string literal (RFC 7541 5.2).
func hpackString(dst []byte, s string) []byte {
	dst = hpackInt(dst, 0, 7, uint64(len(s)))
	return append(dst, s...)
}

// hpackLowerString appends name lower-cased as a raw string literal.
func hpackLowerString(dst []byte, name string) []byte {
	dst = hpackInt(dst, 0, 7, uint64(len(name)))
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// hpackIndexedName appends a literal without indexing whose name is the
// static table entry idx.
func hpackIndexedName(dst []byte, idx uint64, value string) []byte {
	return hpackString(hpackInt(dst, 0x00, 4, idx), value)
}

// errH2Header reports a request header HTTP/2 cannot carry.
type errH2Header struct{ what, name string }

func (e *errH2Header) Error() string {
	return "proxy: h2 upstream: " + e.what + " " + strconv.Quote(e.name)
}

var errH2Upgrade = errors.New("proxy: h2 upstream: connection upgrades are not possible over HTTP/2")

// h2Skip reports request headers an HTTP/2 request must not carry (RFC
// 9113 8.2.2), and those the encoder writes itself (Host, Content-Length),
// in any case, without canonicalising the name.
func h2Skip(name string) bool {
	switch len(name) {
	case 4:
		return strings.EqualFold(name, "Host")
	case 7:
		return strings.EqualFold(name, "Upgrade")
	case 10:
		return strings.EqualFold(name, "Connection") || strings.EqualFold(name, "Keep-Alive")
	case 14:
		return strings.EqualFold(name, "Content-Length")
	case 16:
		return strings.EqualFold(name, "Proxy-Connection")
	case 17:
		return strings.EqualFold(name, "Transfer-Encoding")
	}
	return false
}

// encodeRequestHeaders appends the header block of req to dst, and the sum
// of the fields' sizes as RFC 9113 6.5.2 counts them.
func encodeRequestHeaders(dst []byte, req *http.Request, tls bool) ([]byte, int, error) {
	dst, size, err := encodePseudo(dst, req, tls)
	if err != nil {
		return dst, 0, err
	}
	if req.ContentLength > 0 {
		cl := strconv.FormatInt(req.ContentLength, 10)
		dst = hpackIndexedName(dst, 28, cl) // content-length
		size += len("content-length") + len(cl) + 32
	}
	if _, ok := req.Header["Trailer"]; !ok && len(req.Trailer) > 0 {
		var n int
		if dst, n, err = appendTrailerNames(dst, req.Trailer); err != nil {
			return dst, 0, err
		}
		size += len("trailer") + n + 32
	}
	for name, values := range req.Header {
		if h2Skip(name) {
			continue
		}
		if !httpguts.ValidHeaderFieldName(name) {
			return dst, 0, &errH2Header{"invalid header name", name}
		}
		te := strings.EqualFold(name, "te")
		for _, v := range values {
			if te && !strings.EqualFold(v, "trailers") {
				return dst, 0, &errH2Header{"TE other than trailers:", v}
			}
			if !httpguts.ValidHeaderFieldValue(v) {
				return dst, 0, &errH2Header{"invalid value for header", name}
			}
			dst = appendLiteral(dst, name, v)
			size += len(name) + len(v) + 32
		}
	}
	return dst, size, nil
}

// encodePseudo appends the pseudo-header fields of req and their size.
func encodePseudo(dst []byte, req *http.Request, tls bool) ([]byte, int, error) {
	if req.Method == http.MethodConnect {
		return dst, 0, errors.New("proxy: h2 upstream: CONNECT is not supported")
	}
	if _, ok := req.Header["Upgrade"]; ok {
		return dst, 0, errH2Upgrade
	}
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	if !httpguts.ValidHostHeader(host) {
		return dst, 0, &errH2Header{"invalid authority", host}
	}
	path := req.URL.RequestURI()
	if path == "" {
		path = "/"
	}
	switch req.Method {
	case http.MethodGet, "":
		dst = hpackInt(dst, 0x80, 7, hpackMethodGET)
	case http.MethodPost:
		dst = hpackInt(dst, 0x80, 7, hpackMethodPOST)
	default:
		if !httpguts.ValidHeaderFieldName(req.Method) {
			return dst, 0, &errH2Header{"invalid method", req.Method}
		}
		dst = hpackIndexedName(dst, hpackMethodGET, req.Method)
	}
	scheme := uint64(hpackSchemeHTTP)
	if tls {
		scheme = hpackSchemeTLS
	}
	dst = hpackInt(dst, 0x80, 7, scheme)
	dst = hpackIndexedName(dst, hpackAuthority, host)
	dst = hpackIndexedName(dst, hpackPath, path)
	size := len(":method") + len(req.Method) + len(":scheme") + 5 + len(":authority") + len(host) + len(":path") + len(path) + 4*32
	return dst, size, nil
}

// appendTrailerNames appends a "trailer" field naming the request's
// trailers, and returns the value's length: a server may keep only the
// trailers announced (net/http's does, RFC 9110 6.6.2).
func appendTrailerNames(dst []byte, trailer http.Header) ([]byte, int, error) {
	n := -1
	for name := range trailer {
		if !httpguts.ValidHeaderFieldName(name) {
			return dst, 0, &errH2Header{"invalid trailer name", name}
		}
		n += len(name) + 1
	}
	dst = hpackString(append(dst, 0x00), "trailer")
	dst = hpackInt(dst, 0, 7, uint64(n))
	sep := false
	for name := range trailer {
		if sep {
			dst = append(dst, ',')
		}
		dst, sep = append(dst, name...), true
	}
	return dst, n, nil
}

// encodeTrailers appends the header block of request trailers to dst.
func encodeTrailers(dst []byte, trailer http.Header) ([]byte, error) {
	for name, values := range trailer {
		if !httpguts.ValidHeaderFieldName(name) {
			return dst, &errH2Header{"invalid trailer name", name}
		}
		for _, v := range values {
			if !httpguts.ValidHeaderFieldValue(v) {
				return dst, &errH2Header{"invalid value for trailer", name}
			}
			dst = appendLiteral(dst, name, v)
		}
	}
	return dst, nil
}

// appendLiteral appends one regular field, lower-casing its name.
// Credentials are marked never-indexed (RFC 7541 7.1.3) so that no hop
// after the upstream stores them in a compression table either.
func appendLiteral(dst []byte, name, value string) []byte {
	first := byte(0x00)
	switch name {
	case "Authorization", "Proxy-Authorization", "Cookie":
		first = 0x10
	}
	dst = append(dst, first)
	dst = hpackLowerString(dst, name)
	return hpackString(dst, value)
}
