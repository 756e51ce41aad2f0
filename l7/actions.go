package l7

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/bouncer-proxy/bouncer/configs"
)

// Respond answers with a fixed response.
type Respond struct {
	status int
	body   []byte
	ctype  []string // header values built once; one element, so appends copy
	length []string
}

// NewRespond compiles a direct response.
func NewRespond(c configs.RespondAction) *Respond {
	return &Respond{status: c.Status, body: []byte(c.Body), ctype: []string{c.ContentType}, length: []string{strconv.Itoa(len(c.Body))}}
}

func (a *Respond) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Read (a bounded part of) the request body first, as a proxied request
	// would: framing errors such as an HTTP/2 content-length that does not
	// match the DATA frames are then caught and the stream is reset.
	if r.Body != nil && r.ContentLength != 0 {
		_, _ = io.CopyN(io.Discard, r.Body, 64<<10)
	}
	h := w.Header()
	if len(a.body) > 0 {
		h["Content-Type"] = a.ctype
	}
	h["Content-Length"] = a.length
	w.WriteHeader(a.status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(a.body)
	}
}

// Redirect answers with a redirect built from the request.
type Redirect struct {
	c configs.RedirectAction
}

// NewRedirect compiles a redirect.
func NewRedirect(c configs.RedirectAction) *Redirect { return &Redirect{c: c} }

func (a *Redirect) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	loc := a.c.URL
	if loc == "" {
		u := url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
		if r.TLS != nil {
			u.Scheme = "https"
		}
		if a.c.Scheme != "" {
			u.Scheme = a.c.Scheme
		}
		if a.c.Host != "" {
			u.Host = a.c.Host
		}
		if a.c.Path != "" {
			u.Path, u.RawPath = a.c.Path, ""
		}
		loc = u.String()
	}
	w.Header().Set("Location", loc)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(a.c.Status)
}

// Rewriter changes the request path before the terminal runs.
type Rewriter struct {
	strip string
	path  string
	re    *regexp.Regexp
	repl  string
}

// NewRewriter compiles a rewrite; the regex was checked by Validate.
func NewRewriter(c *configs.Rewrite) (*Rewriter, error) {
	rw := &Rewriter{strip: c.StripPrefix, path: c.Path}
	if c.Regex != nil {
		re, err := regexp.Compile(c.Regex.Pattern)
		if err != nil {
			return nil, err
		}
		rw.re, rw.repl = re, c.Regex.Replacement
	}
	return rw, nil
}

// Apply rewrites r's URL path (escaped form) in place.
func (rw *Rewriter) Apply(r *http.Request) {
	p := r.URL.EscapedPath()
	switch {
	case rw.strip != "":
		if strings.HasPrefix(p, rw.strip) {
			p = p[len(rw.strip):]
		}
		if !strings.HasPrefix(p, "/") {
			p = "/" + p
		}
	case rw.path != "":
		p = rw.path
	case rw.re != nil:
		p = rw.re.ReplaceAllString(p, rw.repl)
		if !strings.HasPrefix(p, "/") {
			p = "/" + p
		}
	}
	setEscapedPath(r.URL, p)
}

// setEscapedPath sets u's path from its escaped form; URL.EscapedPath
// keeps RawPath only while it is a valid encoding of Path.
func setEscapedPath(u *url.URL, escaped string) {
	unesc, err := url.PathUnescape(escaped)
	if err != nil {
		unesc = escaped
	}
	u.Path, u.RawPath = unesc, escaped
}

// HeaderOps edits a header set: remove, then set, then add.
type HeaderOps struct {
	remove []string
	set    [][2]string
	add    [][2]string
}

// NewHeaderOps compiles header changes (names canonicalized once here).
func NewHeaderOps(c *configs.HeaderChanges) *HeaderOps {
	o := &HeaderOps{}
	for _, k := range c.Remove {
		o.remove = append(o.remove, http.CanonicalHeaderKey(k))
	}
	for k, v := range c.Set {
		o.set = append(o.set, [2]string{http.CanonicalHeaderKey(k), v})
	}
	for k, v := range c.Add {
		o.add = append(o.add, [2]string{http.CanonicalHeaderKey(k), v})
	}
	return o
}

// Apply edits h.
func (o *HeaderOps) Apply(h http.Header) {
	for _, k := range o.remove {
		delete(h, k)
	}
	for _, kv := range o.set {
		h[kv[0]] = []string{kv[1]}
	}
	for _, kv := range o.add {
		h[kv[0]] = append(h[kv[0]], kv[1])
	}
}
