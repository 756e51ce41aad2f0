// Package cors answers CORS preflights at the edge and adds the CORS
// response headers to the requests of allowed origins, following the
// Fetch standard's CORS protocol (fetch.spec.whatwg.org, "CORS protocol").
package cors

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/bouncer-proxy/bouncer/l7"
)

// Options is a route's CORS policy.
type Options struct {
	// AllowOrigins are the origins allowed: exact ("https://app.example.com",
	// compared case-insensitively, a default port ignored), wildcard
	// subdomains ("https://*.example.com": any depth of subdomain, never
	// the bare domain), "null" by name, or "*" for any origin. Required.
	AllowOrigins []string
	// AllowMethods a preflight may ask for. GET, HEAD and POST are always
	// allowed (the CORS-safelisted methods). "*" allows any method.
	// Default: none beyond the safelisted ones.
	AllowMethods []string
	// AllowHeaders are the request headers a preflight may ask for,
	// case-insensitive. "*" allows any header (the requested ones are
	// echoed, which also covers Authorization). Default: none, so a
	// preflight that names any header is refused.
	AllowHeaders []string
	// ExposeHeaders are response headers scripts may read beyond the
	// safelisted ones. Default: none.
	ExposeHeaders []string
	// AllowCredentials lets requests with cookies or HTTP authentication
	// through. The Fetch standard forbids it with the "*" origin, so New
	// refuses that combination rather than silently reflecting any origin.
	AllowCredentials bool
	// MaxAge is how long a browser may cache a preflight answer, in whole
	// seconds; 0 sends no Access-Control-Max-Age (the browser default,
	// 5 s). Negative is an error.
	MaxAge time.Duration
	// AllowPrivateNetwork answers Private Network Access preflights
	// (Access-Control-Request-Private-Network: true) with consent; without
	// it such preflights are refused.
	AllowPrivateNetwork bool
}

// CORS is a compiled policy. It is immutable and safe for concurrent use.
type CORS struct {
	origins     originSet
	anyMethod   bool
	methods     map[string]struct{}
	methodsHdr  []string // Access-Control-Allow-Methods value, nil for none
	anyHeader   bool
	headers     map[string]struct{} // lowercase
	headersHdr  []string
	exposeHdr   []string
	credentials bool
	maxAge      []string
	pna         bool
	varyOrigin  bool // the answer depends on Origin (not a plain "*")
}

// ErrCredentialsAnyOrigin is returned by New for AllowCredentials with the
// "*" origin.
var ErrCredentialsAnyOrigin = errors.New(`cors: allow_credentials cannot be used with the "*" origin`)

// New compiles o; it reports the first invalid entry.
func New(o Options) (*CORS, error) {
	if len(o.AllowOrigins) == 0 {
		return nil, errors.New("cors: allow_origins is empty")
	}
	origins, err := compileOrigins(o.AllowOrigins)
	if err != nil {
		return nil, err
	}
	if origins.any && o.AllowCredentials {
		return nil, ErrCredentialsAnyOrigin
	}
	if o.MaxAge < 0 {
		return nil, fmt.Errorf("cors: max_age %s is negative", o.MaxAge)
	}
	c := &CORS{
		origins:     origins,
		credentials: o.AllowCredentials,
		pna:         o.AllowPrivateNetwork,
		varyOrigin:  !origins.any,
		methods:     map[string]struct{}{http.MethodGet: {}, http.MethodHead: {}, http.MethodPost: {}},
		headers:     map[string]struct{}{},
	}
	if err := c.compileMethods(o.AllowMethods); err != nil {
		return nil, err
	}
	if err := c.compileHeaders(o.AllowHeaders, o.ExposeHeaders); err != nil {
		return nil, err
	}
	if secs := int64(o.MaxAge / time.Second); secs > 0 {
		c.maxAge = []string{strconv.FormatInt(secs, 10)}
	}
	return c, nil
}

func (c *CORS) compileMethods(list []string) error {
	var names []string
	for i, m := range list {
		m = strings.TrimSpace(m)
		switch {
		case m == "*":
			c.anyMethod = true
		case !validToken(m):
			return fmt.Errorf("cors: allow_methods[%d]: %q is not a method name", i, m)
		default:
			// Methods are case-sensitive; browsers uppercase only the
			// standard ones, so configured names are taken as written
			// except that those are uppercased to match.
			if std := strings.ToUpper(m); isNormalized(std) {
				m = std
			}
			c.methods[m] = struct{}{}
			names = append(names, m)
		}
	}
	if len(names) > 0 {
		c.methodsHdr = []string{strings.Join(names, ", ")}
	}
	return nil
}

func (c *CORS) compileHeaders(allow, expose []string) error {
	var names []string
	for i, h := range allow {
		h = strings.TrimSpace(h)
		switch {
		case h == "*":
			c.anyHeader = true
		case !validToken(h):
			return fmt.Errorf("cors: allow_headers[%d]: %q is not a header name", i, h)
		default:
			c.headers[strings.ToLower(h)] = struct{}{}
			names = append(names, h)
		}
	}
	if len(names) > 0 {
		c.headersHdr = []string{strings.Join(names, ", ")}
	}
	for i, h := range expose {
		if h = strings.TrimSpace(h); !validToken(h) && h != "*" {
			return fmt.Errorf("cors: expose_headers[%d]: %q is not a header name", i, h)
		}
	}
	if len(expose) > 0 {
		c.exposeHdr = []string{strings.Join(expose, ", ")}
	}
	return nil
}

// Wrap returns a handler that answers preflights itself (204, or 403 JSON
// via l7.WriteError when the origin, method, headers or private-network
// request is not allowed) and passes every other request to next. For
// allowed origins, the CORS headers are set just before next writes its
// response head, replacing any CORS headers next (or an upstream) set. A
// request from an origin not allowed, or without Origin, is passed on and
// its response stripped of CORS headers: the policy is the only source of
// them, and the browser, not the gateway, withholds the response.
func (c *CORS) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if r.Method == http.MethodOptions && origin != "" && r.Header.Get("Access-Control-Request-Method") != "" {
			c.preflight(w, r, origin)
			return
		}
		if c.varyOrigin {
			w.Header().Add("Vary", "Origin")
		}
		switch {
		case c.origins.any:
			// The same answer for every request, Origin or not, so a
			// shared cache needs no Vary to serve it.
			origin = "*"
		case !c.origins.allows(origin):
			origin = "" // the writer strips CORS headers and adds none
		}
		next.ServeHTTP(&writer{ResponseWriter: w, c: c, origin: origin}, r)
	})
}

// preflight answers an OPTIONS preflight; it never reaches the upstream.
func (c *CORS) preflight(w http.ResponseWriter, r *http.Request, origin string) {
	h := w.Header()
	// Preflight answers vary by these request headers whatever the
	// outcome, so a cache cannot hand one origin's answer to another.
	h.Add("Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers")
	if reason := c.refusal(r, origin); reason != "" {
		l7.WriteError(w, r, l7.Errorf(http.StatusForbidden, l7.CodeForbidden, "cors preflight refused: %s", reason))
		return
	}
	c.setOrigin(h, origin)
	if c.anyMethod {
		h["Access-Control-Allow-Methods"] = []string{r.Header.Get("Access-Control-Request-Method")}
	} else if c.methodsHdr != nil {
		h["Access-Control-Allow-Methods"] = c.methodsHdr
	}
	if reqHdr := r.Header.Values("Access-Control-Request-Headers"); c.anyHeader && len(reqHdr) > 0 {
		h["Access-Control-Allow-Headers"] = []string{strings.Join(reqHdr, ", ")}
	} else if c.headersHdr != nil {
		h["Access-Control-Allow-Headers"] = c.headersHdr
	}
	if c.maxAge != nil {
		h["Access-Control-Max-Age"] = c.maxAge
	}
	if c.pna && r.Header.Get("Access-Control-Request-Private-Network") == "true" {
		h.Set("Access-Control-Allow-Private-Network", "true")
	}
	w.WriteHeader(http.StatusNoContent)
}

// refusal says why a preflight is refused, or "" when it is allowed.
func (c *CORS) refusal(r *http.Request, origin string) string {
	if !c.origins.allows(origin) {
		return "origin not allowed"
	}
	method := r.Header.Get("Access-Control-Request-Method")
	if _, ok := c.methods[method]; !ok && !c.anyMethod {
		return "method " + method + " not allowed"
	}
	if !c.anyHeader {
		for _, v := range r.Header.Values("Access-Control-Request-Headers") {
			for name := range strings.SplitSeq(v, ",") {
				name = strings.ToLower(strings.TrimSpace(name))
				if _, ok := c.headers[name]; !ok && name != "" {
					return "header " + name + " not allowed"
				}
			}
		}
	}
	if r.Header.Get("Access-Control-Request-Private-Network") == "true" && !c.pna {
		return "private network access not allowed"
	}
	return ""
}

// setOrigin sets the headers every allowed answer carries.
func (c *CORS) setOrigin(h http.Header, origin string) {
	if c.origins.any {
		h["Access-Control-Allow-Origin"] = star
	} else {
		h["Access-Control-Allow-Origin"] = []string{origin}
	}
	if c.credentials {
		h["Access-Control-Allow-Credentials"] = trueValue
	}
}

var (
	star      = []string{"*"}
	trueValue = []string{"true"}
)

// isNormalized reports whether m is one of the methods the Fetch standard
// uppercases before sending ("normalize a method").
func isNormalized(m string) bool {
	switch m {
	case "DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT":
		return true
	}
	return false
}

// validToken reports whether s is an RFC 9110 §5.6.2 token.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}
