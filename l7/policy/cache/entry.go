package cache

import (
	"net/http"
	"sync/atomic"
	"time"
)

// Entry is one stored response, or a variant marker. Entries handed to a
// Store are never modified afterwards, and an entry a Store returns must
// not be modified by it again: a MemoryStore shares them between readers.
//
// A marker (Variants != "") stands at a URI's primary key when the
// response varies (Vary, or Options.KeyHeaders, or a consumer in the key):
// it lists the request headers that select a variant, and its Variants id
// scopes the variants' keys, so deleting the marker makes every variant
// unreachable at once (they age out of the store).
type Entry struct {
	Status int
	Header http.Header
	Body   []byte
	// RequestTime and ResponseTime are when the request that produced
	// the response was sent and the response received (RFC 9111 §4.2.3).
	RequestTime, ResponseTime time.Time
	// Vary lists the canonical request header names the response varies
	// on; on a marker, the names that pick a variant.
	Vary []string
	// Variants is non-empty on a marker: the id in its variants' keys.
	Variants string
	// Until is when the store may drop the entry (freshness plus the
	// stale windows it may still be used in).
	Until time.Time

	meta atomic.Pointer[meta] // derived from Header once, on first use
}

// meta is what the cache reads from a stored response on every use,
// computed once per entry.
type meta struct {
	cc           directives
	explicit     bool          // freshness lifetime given by the origin
	lifetime     time.Duration // explicit lifetime
	heuristicAge time.Duration // Date - Last-Modified, or absent
	initialAge   time.Duration // corrected_initial_age (§4.2.3)
	etag         string
	lastModified string
	date         time.Time
}

// Size is the entry's approximate footprint in bytes, for store bounds.
func (e *Entry) Size() int64 {
	n := int64(len(e.Body)) + int64(len(e.Variants)) + 96
	for k, vs := range e.Header {
		for _, v := range vs {
			n += int64(len(k) + len(v) + 4)
		}
	}
	for _, v := range e.Vary {
		n += int64(len(v))
	}
	return n
}

// isMarker says e only points at variants.
func (e *Entry) isMarker() bool { return e.Variants != "" }

// info returns the entry's derived data, computing it on first use. Two
// goroutines may both compute it; both results are equal.
func (e *Entry) info() *meta {
	if m := e.meta.Load(); m != nil {
		return m
	}
	m := e.describe()
	e.meta.Store(m)
	return m
}

// describe derives freshness and validators from the stored header.
func (e *Entry) describe() *meta {
	h := e.Header
	m := &meta{
		cc:           parseDirectives(h),
		heuristicAge: absent,
		etag:         h.Get("Etag"),
		lastModified: h.Get("Last-Modified"),
		date:         e.ResponseTime,
	}
	if d, err := http.ParseTime(h.Get("Date")); err == nil {
		m.date = d
	}
	m.lifetime, m.explicit = explicitLifetime(h, &m.cc, m.date)
	if lm, err := http.ParseTime(m.lastModified); err == nil && !lm.After(m.date) {
		m.heuristicAge = m.date.Sub(lm)
	}
	m.initialAge = initialAge(h, m.date, e.RequestTime, e.ResponseTime)
	return m
}

// explicitLifetime is the origin-given freshness lifetime for a shared
// cache, s-maxage before max-age before Expires - Date (§4.2.1). An
// Expires that does not parse means already expired (§5.3).
func explicitLifetime(h http.Header, cc *directives, date time.Time) (time.Duration, bool) {
	switch {
	case cc.sMaxAge != absent:
		return cc.sMaxAge, true
	case cc.maxAge != absent:
		return cc.maxAge, true
	}
	exp, ok := h["Expires"]
	if !ok || len(exp) == 0 {
		return 0, false
	}
	t, err := http.ParseTime(exp[0])
	if err != nil {
		return 0, true
	}
	return max(0, t.Sub(date)), true
}

// initialAge is corrected_initial_age of §4.2.3: the larger of the
// apparent age (response_time - date) and the Age header plus the
// response delay.
func initialAge(h http.Header, date, reqTime, respTime time.Time) time.Duration {
	apparent := max(0, respTime.Sub(date))
	ageValue := time.Duration(0)
	if v := h.Get("Age"); v != "" {
		ageValue = parseDelta(v)
	}
	corrected := ageValue + max(0, respTime.Sub(reqTime))
	return max(apparent, corrected)
}

// lifetime is the freshness lifetime the cache uses: explicit, else the
// heuristic 10% of the time since Last-Modified capped at maxHeuristic,
// for heuristically cacheable statuses or public responses (§4.2.2).
func (e *Entry) lifetime(maxHeuristic time.Duration) time.Duration {
	m := e.info()
	if m.explicit {
		return m.lifetime
	}
	if m.heuristicAge == absent || maxHeuristic <= 0 {
		return 0
	}
	if !heuristicStatus(e.Status) && !m.cc.public {
		return 0
	}
	return min(m.heuristicAge/10, maxHeuristic)
}

// age is current_age of §4.2.3 at now.
func (e *Entry) age(now time.Time) time.Duration {
	return e.info().initialAge + max(0, now.Sub(e.ResponseTime))
}

// hasValidator says a conditional request can revalidate e.
func (e *Entry) hasValidator() bool {
	m := e.info()
	return m.etag != "" || m.lastModified != ""
}

// heuristicStatus lists the statuses cacheable by default (RFC 9110
// §15.1). 206 is among them but partial content is never stored here.
func heuristicStatus(code int) bool {
	switch code {
	case 200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501:
		return true
	}
	return false
}
