package proxy

import (
	"net/http"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// isHopHeader reports the hop-by-hop headers of RFC 9110 section 7.6.1,
// plus the legacy ones proxies still see, by canonical name. They describe
// one connection and must not be forwarded.
func isHopHeader(name string) bool {
	switch name {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
		"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// removeHopHeaders deletes hop-by-hop headers and every header named in
// Connection (RFC 9110 section 7.6.1). h's keys are canonical (as the
// servers and http.Header's methods make them).
func removeHopHeaders(h http.Header) {
	for _, v := range h["Connection"] {
		for _, name := range strings.Split(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				h.Del(name)
			}
		}
	}
	for k := range h {
		if isHopHeader(k) {
			delete(h, k)
		}
	}
}

// upgradeType returns the protocol a request or response asks to switch to
// ("websocket"), or "".
func upgradeType(h http.Header) string {
	if !httpguts.HeaderValuesContainsToken(h["Connection"], "Upgrade") {
		return ""
	}
	return h.Get("Upgrade")
}

// copyHeader sets src's fields on dst, replacing what dst had: the
// gateway pre-sets the request id on the response, and an upstream that
// echoes it must not make it appear twice.
func copyHeader(dst, src http.Header) {
	for k, vv := range src {
		dst[k] = vv
	}
}
