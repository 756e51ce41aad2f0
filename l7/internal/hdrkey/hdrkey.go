// Package hdrkey puts header field names in canonical form (as
// http.CanonicalHeaderKey does for valid names) without allocating when a
// name already is canonical or is a common one: HTTP/2 peers send every
// name in lower case, and an HTTP/1.1 backend often does.
package hdrkey

import (
	"net/http"
	"strings"
)

// Canonical returns name in canonical form. name must be a valid field
// name (the parsers check that first).
func Canonical(name string) string {
	var buf [64]byte
	if len(name) > len(buf) {
		return http.CanonicalHeaderKey(name)
	}
	b := buf[:len(name)]
	upper := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case upper && 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		case !upper && 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		b[i] = c
		upper = c == '-'
	}
	if string(b) == name {
		return name
	}
	if k, ok := common[string(b)]; ok {
		return k
	}
	return string(b)
}

// common interns the names requests and responses carry most.
var common = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{
		// requests
		"Accept", "Accept-Charset", "Accept-Encoding", "Accept-Language", "Authorization",
		"Cookie", "Expect", "Forwarded", "From", "Host", "If-Match", "If-Modified-Since",
		"If-None-Match", "If-Range", "If-Unmodified-Since", "Origin", "Pragma", "Priority", "Range",
		"Referer", "Te", "User-Agent", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto",
		"X-Real-Ip", "Grpc-Timeout", "X-Grpc-Web", "X-User-Agent", "Sec-Websocket-Key",
		"Sec-Websocket-Version", "Access-Control-Request-Method", "Access-Control-Request-Headers",
		"Upgrade-Insecure-Requests", "Sec-Fetch-Site", "Sec-Fetch-Mode", "Sec-Fetch-Dest",
		"Sec-Fetch-User",
		// responses
		"Accept-Ranges", "Access-Control-Allow-Origin", "Access-Control-Expose-Headers",
		"Access-Control-Allow-Credentials", "Access-Control-Allow-Headers",
		"Access-Control-Allow-Methods", "Access-Control-Max-Age", "Alt-Svc",
		"Age", "Connection", "Content-Disposition",
		"Content-Location", "Content-Range", "Content-Security-Policy", "Expires", "Keep-Alive",
		"Link", "Location", "Retry-After", "Server", "Set-Cookie", "Strict-Transport-Security",
		"Transfer-Encoding", "Vary", "Www-Authenticate", "X-Content-Type-Options",
		"X-Frame-Options", "X-Powered-By", "Grpc-Status", "Grpc-Message", "Grpc-Status-Details-Bin",
		// both
		"Cache-Control", "Content-Encoding", "Content-Language", "Content-Length", "Content-Type",
		"Date", "Etag", "Last-Modified", "Trailer", "Via", "X-Request-Id", "Grpc-Encoding",
		"Grpc-Accept-Encoding",
	} {
		m[k] = k
	}
	return m
}()

// Lower returns a canonical name in lower case, as HTTP/2 writes it,
// without allocating for the common ones.
func Lower(name string) string {
	if l, ok := lower[name]; ok {
		return l
	}
	return strings.ToLower(name)
}

var lower = func() map[string]string {
	m := make(map[string]string, len(common))
	for k := range common {
		m[k] = strings.ToLower(k)
	}
	return m
}()
