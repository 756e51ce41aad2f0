package cache

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// recorderMode is what the recorder does with the upstream response.
type recorderMode int

const (
	passThrough recorderMode = iota // to the client, teed into the store if storable
	notModified                     // a 304 validating the stored response
	staleError                      // an error the stored response stands in for
)

// recorder is the ResponseWriter next writes to on a fetch. It decides at
// WriteHeader whether the response goes to the client (copying up to
// MaxObjectBytes of the body aside when it is storable) or is held back
// because the stored response answers instead. Used from the goroutine
// running next only.
//
// Cache-Status says "stored" once the headers allow storing. A body
// without Content-Length that then outgrows MaxObjectBytes, or ends
// early (see whole), is dropped although the header, already sent, said
// stored.
type recorder struct {
	c       *Cache
	w       http.ResponseWriter // the client
	r       *http.Request       // the client's request
	f       *found
	req     *directives
	fwd     string
	reqTime time.Time

	header    http.Header // what next writes
	wrote     bool
	status    int
	mode      recorderMode
	respTime  time.Time
	entry     *Entry // the response to store; nil when not storing
	body      []byte
	reason    string // why it is not stored
	hide      bool   // the client gets a 304 or a HEAD: no body
	clientErr bool
}

// Header is the header next fills.
func (rec *recorder) Header() http.Header { return rec.header }

// WriteHeader decides the response's fate (see recorder). Informational
// responses pass straight through.
func (rec *recorder) WriteHeader(code int) {
	if rec.wrote {
		return
	}
	if code >= 100 && code < 200 {
		copyHeader(rec.w.Header(), rec.header)
		rec.w.WriteHeader(code)
		return
	}
	rec.wrote, rec.status, rec.respTime = true, code, rec.c.opts.Now()
	if e := rec.f.entry; e != nil {
		if code == http.StatusNotModified {
			rec.mode = notModified
			return
		}
		if isError(code) && rec.c.staleIfError(e, rec.respTime) {
			rec.mode = staleError
			return
		}
	}
	rec.entry, rec.reason = rec.c.candidate(rec.r, rec.req, code, rec.header, rec.reqTime, rec.respTime)
	if n, err := strconv.Atoi(rec.header.Get("Content-Length")); err == nil && n >= 0 && rec.entry != nil {
		rec.body = make([]byte, 0, n) // refuse has checked n against the bound
	}
	h := rec.w.Header()
	copyHeader(h, rec.header)
	h.Add("Cache-Status", rec.c.fwdStatus(rec.fwd, code, rec.entry != nil, rec.reason))
	rec.hide = rec.r.Method == http.MethodHead
	if rec.entry != nil && code == http.StatusOK && clientNotModified(rec.r, rec.entry) {
		rec.hide = true
		stripBodyHeaders(h)
		code = http.StatusNotModified
	}
	rec.w.WriteHeader(code)
}

// Write copies p to the client (unless held back) and aside for the
// store while it stays within MaxObjectBytes; past that the copy is
// dropped and the response only streams.
func (rec *recorder) Write(p []byte) (int, error) {
	if !rec.wrote {
		rec.WriteHeader(http.StatusOK)
	}
	if rec.mode != passThrough {
		return len(p), nil
	}
	if rec.entry != nil {
		if int64(len(rec.body)+len(p)) > rec.c.opts.MaxObjectBytes {
			rec.entry, rec.body, rec.reason = nil, nil, "too-large"
		} else {
			rec.body = append(rec.body, p...)
		}
	}
	if rec.hide {
		return len(p), nil
	}
	n, err := rec.w.Write(p)
	if err != nil {
		rec.clientErr = true
	}
	return n, err
}

// Flush passes through to the client.
func (rec *recorder) Flush() {
	if rec.mode == passThrough && rec.wrote {
		_ = http.NewResponseController(rec.w).Flush()
	}
}

// Unwrap lets http.ResponseController reach deadlines of the client.
func (rec *recorder) Unwrap() http.ResponseWriter { return rec.w }

// finish runs after next returns: it stores a complete storable
// response, or answers the client from the stored one.
func (rec *recorder) finish() {
	if !rec.wrote {
		rec.WriteHeader(http.StatusOK)
	}
	c, f := rec.c, rec.f
	switch rec.mode {
	case notModified:
		e := c.freshen(f.entry, rec.header, rec.reqTime, rec.respTime)
		c.event(EventRevalidated)
		c.save(rec.r, f, e)
		c.respond(rec.w, rec.r, e, c.fwdStatus(rec.fwd, http.StatusNotModified, true, ""), c.opts.Now())
	case staleError:
		c.event(EventStale)
		status := c.fwdStatus("stale", rec.status, false, "stale-if-error")
		c.respond(rec.w, rec.r, f.entry, status, c.opts.Now())
	default:
		passTrailers(rec.w.Header(), rec.header)
		if rec.entry == nil || !rec.whole() {
			return
		}
		rec.entry.Body = rec.body
		c.save(rec.r, f, rec.entry)
	}
}

// whole says the body next wrote is the whole response, as far as the
// recorder can tell. next may return normally with a truncated body: a
// proxy whose copy stopped because the client went away returns without
// an error, and a body without Content-Length gives nothing to compare.
// So nothing is stored when a write to the client failed, when the
// request's context ended before the response did, or when the body is
// not the Content-Length the header announced.
func (rec *recorder) whole() bool {
	return !rec.clientErr && rec.r.Context().Err() == nil && complete(rec.entry.Header, len(rec.body))
}

// isError lists the statuses stale-if-error covers (RFC 5861 §4); a
// dropped connection reaches the cache as the proxy's 502 or 504.
func isError(code int) bool {
	switch code {
	case 500, 502, 503, 504:
		return true
	}
	return false
}

// complete says a body of n bytes is all the Content-Length announced.
func complete(h http.Header, n int) bool {
	cl := h.Get("Content-Length")
	if cl == "" {
		return true
	}
	want, err := strconv.Atoi(cl)
	return err == nil && want == n
}

// passTrailers hands the client the trailer values next set after the
// header went out (declared in Trailer, or with http.TrailerPrefix).
// Trailers are not stored.
func passTrailers(dst, src http.Header) {
	for _, line := range src["Trailer"] {
		for _, name := range strings.Split(line, ",") {
			name = http.CanonicalHeaderKey(strings.TrimSpace(name))
			if vs, ok := src[name]; ok {
				dst[name] = vs
			}
		}
	}
	for k, vs := range src {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			dst[k] = vs
		}
	}
}

// copyHeader adds src's fields to dst; the value slices are clipped so
// an append to dst never writes into src.
func copyHeader(dst, src http.Header) {
	for k, vs := range src {
		dst[k] = vs[:len(vs):len(vs)]
	}
}

var _ http.Flusher = (*recorder)(nil)
