package cache

import (
	"context"
	"net/http"
	"net/url"
	"strings"
)

// other forwards a method the cache does not serve. An unsafe method
// that succeeds (2xx, 3xx) invalidates the target URI's entries, and
// those of its Location and Content-Location on the same host (RFC 9111
// §4.4). OPTIONS, TRACE and other safe methods pass untouched.
func (c *Cache) other(w http.ResponseWriter, r *http.Request, next http.Handler) {
	sw := &statusWriter{ResponseWriter: w, status: c.opts.Name + "; fwd=method"}
	next.ServeHTTP(sw, r)
	if sw.code == 0 {
		sw.code = http.StatusOK // nothing written: the server sends 200
	}
	if safeMethod(r.Method) || sw.code < 200 || sw.code >= 400 {
		return
	}
	ctx := r.Context()
	target := c.keys.primary(r)
	c.delete(ctx, target)
	base, err := url.Parse(target)
	if err != nil {
		return
	}
	for _, field := range []string{"Location", "Content-Location"} {
		v := sw.Header().Get(field)
		if v == "" {
			continue
		}
		u, err := base.Parse(v)
		if err != nil || !strings.EqualFold(u.Host, base.Host) || u.Scheme != base.Scheme {
			continue
		}
		if key := c.keys.uriKey(u.Scheme, u.Host, u); key != target {
			c.delete(ctx, key)
		}
	}
}

// bypass forwards a GET or HEAD the cache must not touch.
func (c *Cache) bypass(w http.ResponseWriter, r *http.Request, next http.Handler, detail string) {
	c.event(EventBypass)
	next.ServeHTTP(&statusWriter{ResponseWriter: w, status: c.opts.Name + "; fwd=bypass; detail=" + detail}, r)
}

// delete removes one primary key, counting an invalidation.
func (c *Cache) delete(ctx context.Context, key string) {
	if err := c.store.Delete(ctx, key); err != nil {
		c.storeError("delete", err)
		return
	}
	c.event(EventInvalidate)
}

// safeMethod lists the methods RFC 9110 §9.2.1 defines as safe.
func safeMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

// statusWriter adds a Cache-Status member to a response it passes
// through and remembers its status.
type statusWriter struct {
	http.ResponseWriter
	status string
	code   int
}

func (sw *statusWriter) WriteHeader(code int) {
	if sw.code == 0 && code >= 200 {
		sw.code = code
		sw.Header().Add("Cache-Status", sw.status)
	}
	sw.ResponseWriter.WriteHeader(code)
}

func (sw *statusWriter) Write(p []byte) (int, error) {
	if sw.code == 0 {
		sw.WriteHeader(http.StatusOK)
	}
	return sw.ResponseWriter.Write(p)
}

// Flush passes through, for code that type-asserts http.Flusher.
func (sw *statusWriter) Flush() { _ = http.NewResponseController(sw.ResponseWriter).Flush() }

// Unwrap lets http.ResponseController reach Hijack and deadlines.
func (sw *statusWriter) Unwrap() http.ResponseWriter { return sw.ResponseWriter }

var _ http.Flusher = (*statusWriter)(nil)
