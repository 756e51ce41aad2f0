package transcode

import (
	"net/http"
	"strings"
)

// copyMetadata passes the allowed request headers, and those with the
// metadata prefix (without it), as gRPC metadata. Pseudo and reserved
// gRPC names never pass. A prefixed header never speaks for a name that
// Bouncer sets or clears for trust (the forwarding headers, the client
// certificate's identity), nor for an allowed header: that one comes only
// from the header itself, as the route's policies left it.
func (h *Handler) copyMetadata(dst, src http.Header) {
	prefix := h.cfg.Metadata.Prefix
	for name, vv := range src {
		key := ""
		switch {
		case prefix != "" && len(name) > len(prefix) && strings.EqualFold(name[:len(prefix)], prefix):
			key = name[len(prefix):]
			if trustMetadata(strings.ToLower(key)) || h.allowedHeader(key) {
				continue
			}
		case h.allowedHeader(name):
			key = name
		default:
			continue
		}
		lk := strings.ToLower(key)
		if reservedMetadata(lk) {
			continue
		}
		dst[http.CanonicalHeaderKey(lk)] = append(dst[http.CanonicalHeaderKey(lk)], vv...)
	}
}

func (h *Handler) allowedHeader(name string) bool {
	for _, a := range h.cfg.Metadata.Headers {
		if strings.EqualFold(a, name) {
			return true
		}
	}
	return false
}

// reservedMetadata reports the names that never pass between headers and
// metadata, either way: gRPC's own and the connection's.
func reservedMetadata(k string) bool {
	switch k {
	case "content-type", "te", "user-agent", "host", "connection", "content-length", "transfer-encoding":
		return true
	}
	return strings.HasPrefix(k, "grpc-") || strings.HasPrefix(k, ":")
}

// trustMetadata reports the lower-case names whose value the upstream
// trusts because Bouncer set it or removed a client's (l7's forwarding
// headers, tls/mtls's client certificate header): a client must not
// reach them through the metadata prefix.
func trustMetadata(k string) bool {
	switch k {
	case "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "forwarded",
		"x-real-ip", "x-forwarded-client-cert":
		return true
	}
	return false
}
