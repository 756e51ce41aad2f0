package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// keyer builds cache keys. Built once by New; read-only afterwards.
//
// The primary key of a request is scheme://host/path?query: the scheme
// from the connection (https when it came over TLS), the Host lowercased,
// the path as sent (escaped form) and the query as sent, or only the
// KeyQuery parameters, or all but the KeyQueryExclude ones (those two
// sorted by name), or none with IgnoreQuery. The method is not part of
// it: HEAD is answered from GET's entry. Purge and PurgePrefix take keys
// in this form, and invalidation deletes one.
//
// The secondary key picks a variant below a marker: the KeyHeaders values,
// the user (userKey) when Options.CacheAuthenticated, and the values of the
// request headers named by the response's Vary.
type keyer struct {
	ignoreQuery bool
	include     []string // sorted
	exclude     []string // sorted
	headers     []string // canonical names
}

// primary is r's primary key.
func (k *keyer) primary(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return k.uriKey(scheme, r.Host, r.URL)
}

// uriKey is the primary key of u on host.
func (k *keyer) uriKey(scheme, host string, u *url.URL) string {
	q := k.query(u)
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	var b strings.Builder
	b.Grow(len(scheme) + 3 + len(host) + len(path) + 1 + len(q))
	b.WriteString(scheme)
	b.WriteString("://")
	b.WriteString(strings.ToLower(host))
	b.WriteString(path)
	if q != "" {
		b.WriteByte('?')
		b.WriteString(q)
	}
	return b.String()
}

// query is the part of u's query that belongs in the key.
func (k *keyer) query(u *url.URL) string {
	switch {
	case k.ignoreQuery || u.RawQuery == "":
		return ""
	case k.include == nil && k.exclude == nil:
		return u.RawQuery
	}
	vals, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return u.RawQuery // unparseable: keep it whole, never merge keys
	}
	for name := range vals {
		_, in := slices.BinarySearch(k.include, name)
		_, out := slices.BinarySearch(k.exclude, name)
		if (k.include != nil && !in) || out {
			delete(vals, name)
		}
	}
	return vals.Encode()
}

// extras are the secondary-key parts that do not come from Vary: the
// KeyHeaders values and the user's key part (userKey; empty when unused).
func (k *keyer) extras(r *http.Request, consumer string) string {
	if len(k.headers) == 0 && consumer == "" {
		return ""
	}
	var b strings.Builder
	for _, name := range k.headers {
		b.WriteString(name)
		b.WriteByte('=')
		writeNormalized(&b, name, r.Header)
		b.WriteByte('\x01')
	}
	if consumer != "" {
		b.WriteString("@consumer=")
		b.WriteString(consumer)
	}
	return b.String()
}

// secondary is the key of the variant of primary, under the marker with
// id, chosen by extras and the request's values of the vary names.
// Long selectors are hashed to keep keys short.
func secondary(primary, id, extras string, names []string, h http.Header) string {
	var b strings.Builder
	b.WriteString(extras)
	for _, name := range names {
		b.WriteByte('\x01')
		b.WriteString(name)
		b.WriteByte('=')
		writeNormalized(&b, name, h)
	}
	sel := b.String()
	if len(sel) > 128 {
		sum := sha256.Sum256([]byte(sel))
		sel = "#" + hex.EncodeToString(sum[:16])
	}
	return primary + "\x00" + id + "\x00" + sel
}

// writeNormalized writes the request's value of header name the way two
// equivalent requests agree on (RFC 9111 §4.1): field lines combined,
// whitespace around list commas removed, and case folded for the Accept
// family whose tokens are case-insensitive. An absent field writes a
// byte no field value contains, so it only matches absent.
func writeNormalized(b *strings.Builder, name string, h http.Header) {
	vs, ok := h[name]
	if !ok {
		b.WriteByte('\x02')
		return
	}
	fold := strings.HasPrefix(name, "Accept")
	for i, line := range vs {
		if i > 0 {
			b.WriteByte(',')
		}
		for j, part := range strings.Split(line, ",") {
			if j > 0 {
				b.WriteByte(',')
			}
			part = strings.TrimSpace(part)
			if fold {
				part = strings.ToLower(part)
			}
			b.WriteString(part)
		}
	}
}

// varyNames are the canonical names in a response's Vary, deduplicated,
// and whether one of them is "*" (which never matches, §4.1).
func varyNames(h http.Header) (names []string, star bool) {
	for _, line := range h.Values("Vary") {
		for line != "" {
			var item string
			item, line = nextItem(line)
			switch {
			case item == "*":
				star = true
			case item != "":
				name := http.CanonicalHeaderKey(item)
				if !slices.Contains(names, name) {
					names = append(names, name)
				}
			}
		}
	}
	return names, star
}
