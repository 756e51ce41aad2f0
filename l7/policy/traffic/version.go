package traffic

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/bouncer-proxy/bouncer/l7"
)

// CodeGone is the error code of the 410 answered for a version past its
// sunset when VersionOptions.RejectAfterSunset is set.
const CodeGone = "GONE"

// APIVersion is one version of an API and the backend that serves it.
type APIVersion struct {
	// Name is the version as requests spell it: the path segment ("v1"),
	// or the header or query value ("2"). Compared case-sensitively.
	Name string
	// Backend is a key of the backends map.
	Backend string
	// Deprecated, if set, marks the version deprecated from that instant
	// (past or future): responses carry "Deprecation: @<unix seconds>",
	// the structured-field date of RFC 9745 §2.1.
	Deprecated time.Time
	// Sunset, if set, is when the version stops being served: responses
	// carry "Sunset: <HTTP-date>" (RFC 8594 §3). Not before Deprecated
	// (RFC 9745 §3).
	Sunset time.Time
	// DeprecationLink is a URL documenting the deprecation, sent as
	// Link: <url>; rel="deprecation" (RFC 9745 §3). Needs Deprecated.
	DeprecationLink string
	// SunsetLink is a URL about the sunset, sent as
	// Link: <url>; rel="sunset" (RFC 8594 §6).
	SunsetLink string
}

// VersionOptions configure Versions.
type VersionOptions struct {
	// From is where a request names its version: "path" (the first path
	// segment, /v1/...; the default), "header:NAME" (Api-Version: 2) or
	// "query:NAME" (?version=2). In path mode a first segment counts as a
	// version attempt when it is a known name or looks like one ("v" then
	// a digit: v3, v2.1, v1beta); any other path (/orders) names none.
	From string
	// StripPrefix removes the version segment before the backend sees the
	// path (/v1/orders → /orders); path mode only.
	StripPrefix bool
	// PathPrefix, in path mode, is a literal prefix the version segment
	// follows: with "/api", /api/v1/orders names v1 (and strips to
	// /api/orders). Empty: the version is the first segment.
	PathPrefix string
	// Default is the version of requests that name none; it must be one
	// of Versions. Empty: such requests get a 404.
	Default string
	// Versions are the known versions; at least one, names unique.
	Versions []APIVersion
	// RejectAfterSunset answers 410 Gone (JSON, code GONE, with the
	// deprecation headers) for a version whose Sunset has passed, instead
	// of serving it.
	RejectAfterSunset bool
}

// Versions routes requests to the backend of the API version they ask for
// and marks deprecated versions in the response headers. Immutable, safe
// for concurrent use.
type Versions struct {
	from    source
	strip   bool
	prefix  string // PathPrefix without a trailing slash
	byName  map[string]*version
	def     *version
	known   string // "v1, v2", for the 404 message
	vary    string // header a response varies by, in header mode
	reject  bool
	unnamed *l7.Error // 404 for a request that names no version, without Default
}

// version is a compiled APIVersion.
type version struct {
	name    string
	h       http.Handler
	sunset  time.Time
	set     [][2]string // Deprecation and Sunset
	links   []string    // Link values
	goneMsg string
}

var _ http.Handler = (*Versions)(nil)

// NewVersions compiles opts over backends (name → handler); it reports the
// first invalid option.
func NewVersions(opts VersionOptions, backends map[string]http.Handler) (*Versions, error) {
	return buildVersions(opts, backends)
}

// ServeHTTP finds the request's version, adds its deprecation headers and
// lets its backend serve; an unknown version gets a 404 naming the known
// ones, a retired one a 410 when RejectAfterSunset.
func (v *Versions) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if v.vary != "" {
		w.Header().Add("Vary", v.vary)
	}
	name, rest, given := v.from.version(r, v.byName, v.prefix)
	ver := v.byName[name]
	switch {
	case given && ver == nil:
		l7.WriteError(w, r, l7.Errorf(http.StatusNotFound, l7.CodeNotFound,
			"unknown API version %q; known versions: %s", clip(name, 64), v.known))
		return
	case !given && v.def == nil:
		l7.WriteError(w, r, v.unnamed)
		return
	case !given:
		ver = v.def
	}
	ver.annotate(w.Header())
	if v.reject && !ver.sunset.IsZero() && !time.Now().Before(ver.sunset) {
		l7.WriteError(w, r, &l7.Error{Status: http.StatusGone, Code: CodeGone, Message: ver.goneMsg})
		return
	}
	if given && v.strip {
		r = stripVersion(r, v.prefix, rest)
	}
	ver.h.ServeHTTP(w, r)
}

// annotate adds the version's deprecation headers. They are set before the
// backend runs, so a backend's own Link values come after these.
func (ver *version) annotate(h http.Header) {
	for _, kv := range ver.set {
		h.Set(kv[0], kv[1])
	}
	for _, l := range ver.links {
		h.Add("Link", l)
	}
}

// stripVersion returns a shallow copy of r without the version segment
// after prefix; prefix and rawRest (the remainder after the version) are
// escaped, as the path was matched, so a prefix holding escapes (%20) is
// cut where it was found.
func stripVersion(r *http.Request, prefix, rawRest string) *http.Request {
	esc := prefix + rawRest
	p, err := url.PathUnescape(esc)
	if err != nil {
		return r // cannot happen: both parts came from a valid escaped path
	}
	u := *r.URL
	u.Path, u.RawPath = p, ""
	if u.EscapedPath() != esc {
		u.RawPath = esc
	}
	s := new(http.Request)
	*s = *r
	s.URL = &u
	return s
}

// clip shortens s to at most n bytes for error messages.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// sourceKind is where a request names its version.
type sourceKind uint8

const (
	fromPath sourceKind = iota
	fromHeader
	fromQuery
)

type source struct {
	kind sourceKind
	name string // canonical header name or query parameter
}

// version returns the version named by r, the escaped rest of the path in
// path mode, and whether r named one at all.
func (s source) version(r *http.Request, known map[string]*version, prefix string) (string, string, bool) {
	switch s.kind {
	case fromHeader:
		v := strings.TrimSpace(r.Header.Get(s.name))
		return v, "", v != ""
	case fromQuery:
		v := r.URL.Query().Get(s.name)
		return v, "", v != ""
	}
	u := r.URL
	if prefix != "" {
		ep := u.EscapedPath()
		if !strings.HasPrefix(ep, prefix+"/") {
			return "", "", false
		}
		rest := ep[len(prefix):]
		p, err := url.PathUnescape(rest)
		if err != nil {
			return "", "", false
		}
		u = &url.URL{Path: p, RawPath: rest}
	}
	seg, rest, ok := firstSegment(u)
	if !ok {
		return "", "", false
	}
	if _, isKnown := known[seg]; isKnown || looksLikeVersion(seg) {
		return seg, rest, true
	}
	return "", "", false
}

// firstSegment returns the unescaped first segment of u's path and the
// escaped rest ("/" at least). A segment holding an escaped slash is not a
// version.
func firstSegment(u *url.URL) (string, string, bool) {
	ep := u.EscapedPath()
	if !strings.HasPrefix(ep, "/") {
		return "", "", false
	}
	raw, rest, _ := strings.Cut(ep[1:], "/")
	seg, err := url.PathUnescape(raw)
	if err != nil || seg == "" || strings.Contains(seg, "/") {
		return "", "", false
	}
	return seg, "/" + rest, true
}

// looksLikeVersion reports a "v" followed by a digit.
func looksLikeVersion(seg string) bool {
	return len(seg) >= 2 && seg[0] == 'v' && seg[1] >= '0' && seg[1] <= '9'
}
