package cache

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/bouncer-proxy/bouncer/l7"
)

// found is what a lookup learned about a request's key.
type found struct {
	primary string
	extras  string // secondary-key parts besides Vary
	marker  *Entry // marker at primary, or nil
	entry   *Entry // stored response matching the request, or nil
	key     string // where entry is, or where it would go (flight key)
	miss    string // Cache-Status fwd when entry is nil
}

// verdict is what a stored response allows for one request.
type verdict int

const (
	useFresh verdict = iota // serve it
	useStale                // serve it stale: the client allows (max-stale)
	useSWR                  // serve it stale and revalidate in the background
	validate                // revalidate before use
	unusable                // treat as a miss
)

// serve is the handler behind Wrap.
func (c *Cache) serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		c.other(w, r, next)
		return
	}
	consumer, detail := c.consumer(r)
	if detail == "" {
		detail = bypassReason(r)
	}
	if detail != "" {
		c.bypass(w, r, next, detail)
		return
	}
	req := requestDirectives(r.Header)
	f := c.lookup(r.Context(), r, consumer)
	if f.entry == nil {
		c.miss(w, r, next, f, &req)
		return
	}
	now := c.opts.Now()
	v, fwd := c.judge(f.entry, &req, r, now)
	switch v {
	case useFresh:
		c.event(EventHit)
		c.respond(w, r, f.entry, c.hitStatus(f.entry, now, ""), now)
	case useStale, useSWR:
		c.event(EventStale)
		detail := ""
		if v == useSWR {
			detail = "stale-while-revalidate"
			c.refreshAsync(r, f, next)
		}
		c.respond(w, r, f.entry, c.hitStatus(f.entry, now, detail), now)
	case validate:
		if req.onlyIfCached {
			c.gatewayTimeout(w, r)
			return
		}
		c.fetch(w, r, next, f, fwd, &req)
	case unusable:
		f.entry, f.miss = nil, "miss"
		c.miss(w, r, next, f, &req)
	}
}

// miss forwards a request nothing stored can answer.
func (c *Cache) miss(w http.ResponseWriter, r *http.Request, next http.Handler, f *found, req *directives) {
	if req.onlyIfCached {
		c.gatewayTimeout(w, r)
		return
	}
	c.event(EventMiss)
	c.fetch(w, r, next, f, f.miss, req)
}

// consumer is the key part for an authenticated request, or the bypass
// reason when it is not cached: authenticated requests are not cached
// without Options.CacheAuthenticated, nor when the identity names no
// single user (see userKey).
func (c *Cache) consumer(r *http.Request) (consumer, bypass string) {
	info := l7.InfoFrom(r.Context())
	if info == nil || info.Identity == nil || info.Identity.Method == "anonymous" {
		return "", "" // the anonymous consumer of a route is everyone without credentials: shared
	}
	if !c.opts.CacheAuthenticated {
		return "", "authenticated"
	}
	key, ok := userKey(info.Identity)
	if !ok {
		return "", "no-user"
	}
	return key, ""
}

// userKey is the key part that keeps one user's entries apart from every
// other user's: the method, the consumer and the subject. ok is false
// when the identity does not name a single user, so sharing its entries
// could hand one user's response to another: without a subject (a JWT
// without sub, an introspected token without sub or username, whose
// consumer is the OAuth client and so shared by all its users), except
// where the consumer itself stands for one caller: an API key's or a
// client certificate's configured consumer, and the consumer an external
// authorization service named (none when it names none).
func userKey(id *l7.Identity) (string, bool) {
	if id.Subject == "" {
		switch id.Method {
		case "api_key", "mtls", "ext_authz":
		default:
			return "", false
		}
		if id.Consumer == "" {
			return "", false
		}
	}
	// Lengths first: no choice of consumer and subject spells another's.
	return id.Method + ":" + strconv.Itoa(len(id.Consumer)) + ":" + id.Consumer + ":" + id.Subject, true
}

// bypassReason names why a GET or HEAD is not for the cache: a range
// request (partial content is not stored) or a protocol upgrade.
func bypassReason(r *http.Request) string {
	switch {
	case len(r.Header["Range"]) > 0:
		return "range"
	case len(r.Header["Upgrade"]) > 0:
		return "upgrade"
	}
	return ""
}

// lookup finds the stored response for r: the entry at the primary key,
// or, below a marker there, the variant r selects. Store errors read as
// misses.
func (c *Cache) lookup(ctx context.Context, r *http.Request, consumer string) *found {
	f := &found{primary: c.keys.primary(r), extras: c.keys.extras(r, consumer), miss: "uri-miss"}
	e := c.get(ctx, f.primary)
	switch {
	case e == nil:
		f.key = f.primary + "\x00" + f.extras
		return f
	case !e.isMarker():
		if f.extras == "" {
			f.entry, f.key = e, f.primary
			return f
		}
		f.key, f.miss = f.primary+"\x00"+f.extras, "vary-miss" // stored before the key had extras
		return f
	}
	f.marker = e
	f.key = secondary(f.primary, e.Variants, f.extras, e.Vary, r.Header)
	if f.entry = c.get(ctx, f.key); f.entry == nil || f.entry.isMarker() {
		f.entry, f.miss = nil, "vary-miss"
	}
	return f
}

// get reads key from the store; an error is logged and reads as absent.
func (c *Cache) get(ctx context.Context, key string) *Entry {
	e, err := c.store.Get(ctx, key)
	if err != nil {
		c.storeError("get", err)
		return nil
	}
	return e
}

// judge decides what e allows for a request with directives req at now
// (RFC 9111 §4.2, §4.2.4, §5.2.1, §3.5), and the Cache-Status fwd value
// when it must be validated.
func (c *Cache) judge(e *Entry, req *directives, r *http.Request, now time.Time) (verdict, string) {
	m := e.info()
	if len(r.Header["Authorization"]) > 0 && !m.cc.public && m.cc.sMaxAge == absent && !m.cc.mustRevalidate {
		return unusable, ""
	}
	age, life := e.age(now), e.lifetime(c.opts.MaxHeuristic)
	if req.noCache || (req.maxAge != absent && (age > req.maxAge || req.maxAge == 0)) {
		return validate, "request"
	}
	if m.cc.noCache {
		return validate, "stale"
	}
	if life > age {
		if req.minFresh == absent || life-age >= req.minFresh {
			return useFresh, ""
		}
		return validate, "request"
	}
	if m.cc.forbidsStale() {
		return validate, "stale"
	}
	staleness := age - life
	if req.maxStaleAny || (req.maxStale != absent && staleness <= req.maxStale) {
		return useStale, ""
	}
	if m.cc.staleWhileRevalidate != absent && staleness <= m.cc.staleWhileRevalidate {
		return useSWR, ""
	}
	return validate, "stale"
}

// staleIfError says e may stand in for an upstream error at now: the
// response allows it (stale-if-error, RFC 5861 §4) and nothing forbids
// serving it stale.
func (c *Cache) staleIfError(e *Entry, now time.Time) bool {
	m := e.info()
	if m.cc.staleIfError == absent || m.cc.forbidsStale() {
		return false
	}
	staleness := e.age(now) - e.lifetime(c.opts.MaxHeuristic)
	return staleness <= m.cc.staleIfError
}

// gatewayTimeout answers only-if-cached when nothing usable is stored
// (RFC 9111 §5.2.1.7).
func (c *Cache) gatewayTimeout(w http.ResponseWriter, r *http.Request) {
	c.event(EventMiss)
	w.Header().Add("Cache-Status", c.opts.Name+"; detail=only-if-cached")
	l7.WriteError(w, r, l7.Errorf(http.StatusGatewayTimeout, l7.CodeTimeout, "not in cache"))
}

// storeError counts and logs a failed store call.
func (c *Cache) storeError(op string, err error) {
	c.event(EventStoreError)
	c.log.Warn("store "+op+" failed", "error", err)
}
