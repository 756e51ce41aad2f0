package cache

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// respond writes the stored response e to the client with its Age at now
// and the Cache-Status member status. A fresh 200 answers the client's
// own conditional request with 304 (RFC 9111 §4.3.2); HEAD gets no body.
func (c *Cache) respond(w http.ResponseWriter, r *http.Request, e *Entry, status string, now time.Time) {
	h := w.Header()
	copyHeader(h, e.Header)
	// Canonical names set directly: this is the hit path.
	h["Age"] = []string{strconv.FormatInt(int64(e.age(now)/time.Second), 10)}
	h["Content-Length"] = []string{strconv.Itoa(len(e.Body))}
	h["Cache-Status"] = append(h["Cache-Status"], status)
	if e.Status == http.StatusOK && clientNotModified(r, e) {
		stripBodyHeaders(h)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.WriteHeader(e.Status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(e.Body)
	}
}

// hitStatus is the Cache-Status member of a response served from the
// cache: hit, the remaining freshness (negative when stale, RFC 9211
// §2.2) and an optional detail.
func (c *Cache) hitStatus(e *Entry, now time.Time, detail string) string {
	ttl := (e.lifetime(c.opts.MaxHeuristic) - e.age(now)) / time.Second
	s := c.opts.Name + "; hit; ttl=" + strconv.FormatInt(int64(ttl), 10)
	if detail != "" {
		s += "; detail=" + detail
	}
	return s
}

// fwdStatus is the Cache-Status member of a forwarded request: why it
// went upstream, the upstream status, whether the response was stored
// and why not (detail).
func (c *Cache) fwdStatus(fwd string, code int, stored bool, detail string) string {
	var b strings.Builder
	b.WriteString(c.opts.Name)
	b.WriteString("; fwd=")
	b.WriteString(fwd)
	b.WriteString("; fwd-status=")
	b.WriteString(strconv.Itoa(code))
	if stored {
		b.WriteString("; stored")
	}
	if detail != "" {
		b.WriteString("; detail=")
		b.WriteString(detail)
	}
	return b.String()
}

// clientNotModified evaluates the client's If-None-Match (weak
// comparison), or without it If-Modified-Since, against e (RFC 9110
// §13.1.2, §13.1.3, §13.2.2).
func clientNotModified(r *http.Request, e *Entry) bool {
	if inm := r.Header["If-None-Match"]; len(inm) > 0 {
		return etagMatches(strings.Join(inm, ","), e.info().etag)
	}
	ims := r.Header["If-Modified-Since"]
	if len(ims) == 0 {
		return false
	}
	since, err := http.ParseTime(ims[0])
	if err != nil {
		return false
	}
	m := e.info()
	lm, err := http.ParseTime(m.lastModified)
	if err != nil {
		lm = m.date
	}
	return !lm.After(since)
}

// etagMatches is the weak comparison of the list inm with etag.
func etagMatches(inm, etag string) bool {
	if etag == "" {
		return false
	}
	want := strings.TrimPrefix(etag, "W/")
	for inm != "" {
		var tag string
		tag, inm = nextItem(inm)
		if tag == "*" || strings.TrimPrefix(tag, "W/") == want {
			return true
		}
	}
	return false
}

// stripBodyHeaders removes the fields a 304 must not carry.
func stripBodyHeaders(h http.Header) {
	for _, k := range []string{"Content-Length", "Content-Type", "Content-Range", "Transfer-Encoding"} {
		delete(h, k)
	}
}
