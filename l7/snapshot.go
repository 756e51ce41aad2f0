package l7

import (
	"net/http"

	"github.com/bouncer-proxy/bouncer/l7/route"
)

// Route is a compiled route: its terminal handler and the request and
// response changes around it. Immutable once built.
type Route struct {
	Name     string
	Terminal http.Handler // proxy, redirect or direct response
	Rewrite  *Rewriter    // nil: path unchanged
	ReqHdr   *HeaderOps   // nil: none
	RespHdr  *HeaderOps   // nil: none
}

// Snapshot is one immutable generation of the HTTP configuration. The
// Gateway loads it once per request, so a reload never changes a request
// half way.
type Snapshot struct {
	Generation      uint64
	Tables          map[string]*route.Table[*Route] // by listener name
	Trusted         *Trusted
	RequestIDHeader string
	MaxBodyBytes    int64
	AccessLog       bool
}

// requestIDKey is RequestIDHeader in canonical form (cheap when it
// already is, as with the default).
func (s *Snapshot) requestIDKey() string {
	return http.CanonicalHeaderKey(s.RequestIDHeader)
}
