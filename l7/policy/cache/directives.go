package cache

import (
	"net/http"
	"strings"
	"time"
)

// absent marks a delta-seconds directive that was not given.
const absent = time.Duration(-1)

// maxDelta is the largest delta-seconds value honoured; larger ones are
// taken as this (RFC 9111 §1.2.2: 2^31 seconds).
const maxDelta = time.Duration(1<<31) * time.Second

// directives are the parsed Cache-Control directives of one message
// (RFC 9111 §5.2). Delta-seconds fields are absent when not given; an
// invalid value reads as 0, which makes a response stale (§4.2.1).
type directives struct {
	noStore, noCache, private, public   bool
	mustRevalidate, proxyRevalidate     bool
	onlyIfCached, mustUnderstand        bool
	maxStaleAny                         bool
	maxAge, sMaxAge, minFresh, maxStale time.Duration
	staleWhileRevalidate, staleIfError  time.Duration
}

// parseDirectives reads every Cache-Control field line of h. Unknown
// directives are ignored (§5.2.3). The qualified forms no-cache="f" and
// private="f" are treated as unqualified, which §5.2.2.4 and §5.2.2.7
// allow and which never stores what the origin wanted kept out.
func parseDirectives(h http.Header) directives {
	d := directives{
		maxAge: absent, sMaxAge: absent, minFresh: absent, maxStale: absent,
		staleWhileRevalidate: absent, staleIfError: absent,
	}
	for _, line := range h["Cache-Control"] {
		for line != "" {
			var item string
			item, line = nextItem(line)
			d.apply(item)
		}
	}
	return d
}

// apply records one directive, "name" or "name=value".
func (d *directives) apply(item string) {
	name, value, hasValue := strings.Cut(item, "=")
	name = strings.TrimSpace(name)
	value = strings.TrimSpace(value)
	switch strings.ToLower(name) {
	case "no-store":
		d.noStore = true
	case "no-cache":
		d.noCache = true
	case "private":
		d.private = true
	case "public":
		d.public = true
	case "must-revalidate":
		d.mustRevalidate = true
	case "proxy-revalidate":
		d.proxyRevalidate = true
	case "only-if-cached":
		d.onlyIfCached = true
	case "must-understand":
		d.mustUnderstand = true
	case "max-age":
		d.maxAge = first(d.maxAge, value)
	case "s-maxage":
		d.sMaxAge = first(d.sMaxAge, value)
	case "min-fresh":
		d.minFresh = first(d.minFresh, value)
	case "max-stale":
		if !hasValue {
			d.maxStaleAny = true
			return
		}
		d.maxStale = first(d.maxStale, value)
	case "stale-while-revalidate":
		d.staleWhileRevalidate = first(d.staleWhileRevalidate, value)
	case "stale-if-error":
		d.staleIfError = first(d.staleIfError, value)
	}
}

// first keeps an earlier value of a repeated directive; otherwise it
// parses v (quotes allowed, §5.2).
func first(cur time.Duration, v string) time.Duration {
	if cur != absent {
		return cur
	}
	return parseDelta(strings.Trim(v, `"`))
}

// parseDelta reads delta-seconds (§1.2.2): invalid is 0, overflow caps.
func parseDelta(v string) time.Duration {
	if v == "" {
		return 0
	}
	var n time.Duration
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + time.Duration(c-'0')
		if n >= 1<<31 {
			return maxDelta
		}
	}
	return n * time.Second
}

// nextItem splits the first comma-separated element off a list, keeping
// commas inside quoted strings.
func nextItem(s string) (item, rest string) {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			return strings.TrimSpace(s[:i]), s[i+1:]
		}
	}
	return strings.TrimSpace(s), ""
}

// requestDirectives reads a request's Cache-Control, with Pragma:
// no-cache taken as no-cache when there is no Cache-Control (RFC 9111
// §5.4 keeps it for HTTP/1.0 clients).
func requestDirectives(h http.Header) directives {
	d := parseDirectives(h)
	if _, ok := h["Cache-Control"]; !ok {
		for _, p := range h.Values("Pragma") {
			if strings.Contains(strings.ToLower(p), "no-cache") {
				d.noCache = true
			}
		}
	}
	return d
}

// forbidsStale says the response may never be served stale by a shared
// cache: must-revalidate, proxy-revalidate, s-maxage (which implies
// proxy-revalidate, §5.2.2.10) or no-cache (§4.2.4).
func (d *directives) forbidsStale() bool {
	return d.mustRevalidate || d.proxyRevalidate || d.sMaxAge != absent || d.noCache
}
