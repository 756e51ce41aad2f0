package l7

import (
	"net/http"

	"github.com/bouncer-proxy/bouncer/configs"
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

	// RequireClientCert refuses requests on connections without a
	// verified client certificate (403).
	RequireClientCert bool

	// Policies is the route's policy chain, ending in Inner (nil: no
	// policies). Built by package policy; a route served on listeners
	// with different policies has one Route per listener.
	Policies http.Handler
}

// Inner is what runs after the policies: the rewrite, the request header
// changes, then the terminal.
func (rt *Route) Inner() http.Handler { return http.HandlerFunc(rt.serveInner) }

func (rt *Route) serveInner(w http.ResponseWriter, r *http.Request) {
	if rt.Rewrite != nil {
		rt.Rewrite.Apply(r)
	}
	if rt.ReqHdr != nil {
		rt.ReqHdr.Apply(r.Header)
	}
	rt.Terminal.ServeHTTP(w, r)
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
	EscapedSlashes  string // server.escaped_slashes: "keep" (or ""), "reject" or "unescape"
	AccessLog       bool
	Listeners       map[string]*ListenerPolicy // by listener name
}

// requestIDKey is RequestIDHeader in canonical form (cheap when it
// already is, as with the default).
func (s *Snapshot) requestIDKey() string {
	return http.CanonicalHeaderKey(s.RequestIDHeader)
}

// NewRoute compiles the parts of a configured route that package l7 owns:
// the rewrite, the header changes and, when proxy is nil, the redirect or
// direct response. proxy is the terminal for a proxy route, built by the
// caller (package l7 does not know upstreams). The error is a bad rewrite.
func NewRoute(rc configs.Route, proxy http.Handler) (*Route, error) {
	rt := &Route{Name: rc.Name, Terminal: proxy, RequireClientCert: rc.ClientCert == "required"}
	switch {
	case rc.Redirect != nil:
		rt.Terminal = NewRedirect(*rc.Redirect)
	case rc.Respond != nil:
		rt.Terminal = NewRespond(*rc.Respond)
	}
	if rc.Rewrite != nil {
		rw, err := NewRewriter(rc.Rewrite)
		if err != nil {
			return nil, err
		}
		rt.Rewrite = rw
	}
	if rc.RequestHeaders != nil {
		rt.ReqHdr = NewHeaderOps(rc.RequestHeaders)
	}
	if rc.ResponseHeaders != nil {
		rt.RespHdr = NewHeaderOps(rc.ResponseHeaders)
	}
	return rt, nil
}
