package cache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// candidate returns the entry to store for a response to r (its header
// cleaned, body still to come), or nil and the reason it is not stored
// (RFC 9111 §3, with the choices in the package doc).
func (c *Cache) candidate(r *http.Request, req *directives, code int, h http.Header, reqTime, respTime time.Time) (*Entry, string) {
	if r.Method != http.MethodGet {
		return nil, ""
	}
	if reason := c.refuse(r, req, code, h); reason != "" {
		return nil, reason
	}
	e := &Entry{Status: code, Header: storedHeader(h, c.opts.SetCookie), RequestTime: reqTime, ResponseTime: respTime}
	if e.Header.Get("Date") == "" {
		e.Header.Set("Date", respTime.UTC().Format(http.TimeFormat))
	}
	m := e.info()
	if !m.explicit && !heuristicStatus(code) {
		return nil, "status"
	}
	if e.lifetime(c.opts.MaxHeuristic) <= e.age(respTime) && !e.hasValidator() &&
		m.cc.staleWhileRevalidate <= 0 && m.cc.staleIfError <= 0 {
		return nil, "not-fresh"
	}
	return e, ""
}

// refuse names what forbids storing a response, or returns "".
func (c *Cache) refuse(r *http.Request, req *directives, code int, h http.Header) string {
	cc := parseDirectives(h)
	switch {
	case code == http.StatusPartialContent || code == http.StatusNotModified || code < 200:
		return "status"
	case req.noStore:
		return "no-store"
	case cc.mustUnderstand && !understood(code):
		return "must-understand" // §5.2.2.3
	case cc.noStore && !cc.mustUnderstand:
		return "no-store"
	case cc.private:
		return "private"
	case r.Header.Get("Authorization") != "" && !cc.public && cc.sMaxAge == absent && !cc.mustRevalidate:
		return "authorization"
	case len(h["Set-Cookie"]) > 0 && c.opts.SetCookie == SetCookieSkip:
		return "set-cookie"
	case headerBytes(h) > c.opts.MaxHeaderBytes:
		return "headers-too-large"
	}
	if _, star := varyNames(h); star {
		return "vary-star"
	}
	if n, err := strconv.ParseInt(h.Get("Content-Length"), 10, 64); err == nil && n > c.opts.MaxObjectBytes {
		return "too-large"
	}
	return ""
}

// save writes e for r's key: at the primary key when nothing varies,
// else as a variant below a marker (written first, new when the Vary
// names changed). The store may be slow (Redis); the request's context
// bounds it.
func (c *Cache) save(r *http.Request, f *found, e *Entry) {
	ctx := r.Context()
	now := c.opts.Now()
	names, _ := varyNames(e.Header)
	e.Vary = names
	ttl := c.ttl(e, now)
	e.Until = now.Add(ttl)
	if len(names) == 0 && f.extras == "" {
		c.set(ctx, f.primary, e, ttl)
		return
	}
	mk := f.marker
	if mk == nil || !slices.Equal(mk.Vary, names) || mk.Until.Before(e.Until) {
		id := newID()
		if mk != nil && slices.Equal(mk.Vary, names) {
			id = mk.Variants
		}
		mk = &Entry{Variants: id, Vary: names, Until: e.Until, ResponseTime: now}
		if !c.set(ctx, f.primary, mk, ttl) {
			return
		}
		f.marker = mk
	}
	c.set(ctx, secondary(f.primary, mk.Variants, f.extras, names, r.Header), e, ttl)
}

// set writes one entry; an error is counted and logged.
func (c *Cache) set(ctx context.Context, key string, e *Entry, ttl time.Duration) bool {
	if err := c.store.Set(ctx, key, e, ttl); err != nil {
		c.storeError("set", err)
		return false
	}
	if !e.isMarker() {
		c.event(EventStored)
	}
	return true
}

// ttl is how long the store keeps e: its remaining freshness, plus its
// stale windows when serving stale is allowed, plus KeepStale when it can
// be revalidated. At least a second.
func (c *Cache) ttl(e *Entry, now time.Time) time.Duration {
	m := e.info()
	ttl := e.lifetime(c.opts.MaxHeuristic) - e.age(now)
	if !m.cc.forbidsStale() {
		ttl += max(0, m.cc.staleWhileRevalidate, m.cc.staleIfError)
	}
	if e.hasValidator() {
		ttl += c.opts.KeepStale
	}
	return max(ttl, time.Second)
}

// freshen is the stored response updated by a 304 (RFC 9111 §4.3.4):
// the 304's fields replace the stored ones (§3.2: not Content-Length,
// nor hop-by-hop fields) and its times become the entry's.
func (c *Cache) freshen(old *Entry, h304 http.Header, reqTime, respTime time.Time) *Entry {
	h := old.Header.Clone()
	for k, vs := range storedHeader(h304, SetCookieKeep) {
		if k == "Content-Length" || k == "Set-Cookie" {
			continue
		}
		h[k] = vs
	}
	if h304.Get("Date") == "" {
		h.Set("Date", respTime.UTC().Format(http.TimeFormat))
	}
	if h304.Get("Age") == "" {
		h.Del("Age") // the old Age described the old response
	}
	return &Entry{Status: old.Status, Header: h, Body: old.Body, RequestTime: reqTime, ResponseTime: respTime}
}

// storedHeader is a copy of h without the fields a cache must not store
// (§3.1: hop-by-hop fields and those Connection names) and, as mode
// says, without Set-Cookie.
func storedHeader(h http.Header, mode SetCookieMode) http.Header {
	out := h.Clone()
	for _, line := range h.Values("Connection") {
		for _, name := range strings.Split(line, ",") {
			out.Del(strings.TrimSpace(name))
		}
	}
	for _, name := range hopByHop {
		delete(out, name)
	}
	if mode == SetCookieStrip {
		delete(out, "Set-Cookie")
	}
	return out
}

// understood are the statuses whose caching rules this cache implements,
// for must-understand (§5.2.2.3).
func understood(code int) bool {
	return heuristicStatus(code) || code == http.StatusFound || code == http.StatusTemporaryRedirect
}

// hopByHop are the fields that describe one connection (RFC 9110 §7.6.1).
var hopByHop = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Te", "Trailer",
	"Transfer-Encoding", "Upgrade", "Proxy-Authenticate", "Proxy-Authentication-Info",
}

// headerBytes is the wire size of h, roughly.
func headerBytes(h http.Header) int {
	n := 0
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}

// newID is a random marker id, unique across instances sharing a store.
func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
