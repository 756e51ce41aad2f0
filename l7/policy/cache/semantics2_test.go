package cache

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// etagOrigin answers If-None-Match: "e1" with 304 (adding the extra
// header pairs), else 200 with ETag "e1" and cache-control cc.
func etagOrigin(cc string, extra304 ...string) originFunc {
	return func(w http.ResponseWriter, r *http.Request, n int) {
		if r.Header.Get("If-None-Match") == `"e1"` {
			for i := 0; i+1 < len(extra304); i += 2 {
				w.Header().Set(extra304[i], extra304[i+1])
			}
			w.WriteHeader(http.StatusNotModified)
			return
		}
		serveBody(200, "ETag", `"e1"`, "Cache-Control", cc, "X-Version", "1")(w, r, n)
	}
}

// failAfter serves 200 with cc first, then status for every later call.
func failAfter(cc string, status int) originFunc {
	return func(w http.ResponseWriter, r *http.Request, n int) {
		if n > 1 {
			w.WriteHeader(status)
			return
		}
		serveBody(200, "Cache-Control", cc)(w, r, n)
	}
}

func validationCases() []semCase {
	return []semCase{
		{name: "no-cache revalidates with ETag, 304 reuses the body", rfc: "§5.2.2.4, §4.3.1, §4.3.3", origin: etagOrigin("no-cache"),
			steps: []step{
				{calls: 1, body: "v1", cs: "stored"},
				{calls: 2, body: "v1", cs: "fwd=stale; fwd-status=304; stored"},
			}},
		{name: "Last-Modified revalidation", rfc: "§4.3.1", origin: lastModifiedOrigin(),
			steps: []step{
				{calls: 1, body: "v1"},
				{advance: 20 * time.Second, calls: 2, body: "v1", cs: "fwd-status=304"},
				{advance: 5 * time.Second, calls: 2, cs: "hit; ttl=5"},
			}},
		{name: "304 updates stored headers", rfc: "§4.3.4, §3.2", origin: etagOrigin("max-age=10", "X-Version", "2", "Cache-Control", "max-age=100"),
			steps: []step{
				{calls: 1, want: hdr("X-Version", "1")},
				{advance: 20 * time.Second, calls: 2, body: "v1", want: hdr("X-Version", "2")},
				{advance: 50 * time.Second, calls: 2, cs: "hit; ttl=50", want: hdr("X-Version", "2")},
			}},
		{name: "request max-age=0 revalidates", rfc: "§5.2.1.1, §4.3.1", origin: etagOrigin("max-age=60"),
			steps: []step{{calls: 1}, {hdr: hdr("Cache-Control", "max-age=0"), calls: 2, cs: "fwd=request; fwd-status=304", body: "v1"}}},
		{name: "request no-cache forwards a fresh response", rfc: "§5.2.1.4", origin: serveBody(200, "Cache-Control", "max-age=60"),
			steps: []step{{calls: 1}, {hdr: hdr("Cache-Control", "no-cache"), calls: 2, cs: "fwd=request", body: "v2"}, {calls: 2, body: "v2"}}},
		{name: "Pragma no-cache without Cache-Control", rfc: "§5.4", origin: serveBody(200, "Cache-Control", "max-age=60"),
			steps: []step{{calls: 1}, {hdr: hdr("Pragma", "no-cache"), calls: 2, cs: "fwd=request"}}},
		{name: "client If-None-Match answered 304 from a fresh entry", rfc: "§4.3.2", origin: etagOrigin("max-age=60"),
			steps: []step{
				{calls: 1},
				{hdr: hdr("If-None-Match", `W/"x", "e1"`), status: 304, calls: 1, cs: "hit", want: hdr("ETag", `"e1"`)},
				{hdr: hdr("If-None-Match", `"other"`), calls: 1, body: "v1"},
			}},
		{name: "client If-Modified-Since answered 304", rfc: "§4.3.2", origin: lastModifiedOrigin(),
			steps: []step{
				{hdr: hdr("If-Modified-Since", "Mon, 31 Dec 2029 23:45:00 GMT"), status: 304, calls: 1, cs: "stored"},
				{hdr: hdr("If-Modified-Since", "Mon, 31 Dec 2029 23:30:00 GMT"), status: 304, calls: 1, cs: "hit"},
				{hdr: hdr("If-Modified-Since", "Mon, 31 Dec 2029 23:00:00 GMT"), calls: 1, body: "v1"},
			}},
	}
}

func varyCases() []semCase {
	return []semCase{
		{name: "Vary selects variants", rfc: "§4.1", origin: varyOrigin("Accept-Encoding"),
			steps: []step{
				{hdr: hdr("Accept-Encoding", "gzip, br"), calls: 1, body: "v1"},
				{hdr: hdr("Accept-Encoding", "GZIP,br"), calls: 1, cs: "hit", body: "v1"},
				{hdr: hdr("Accept-Encoding", "identity"), calls: 2, cs: "fwd=vary-miss", body: "v2"},
				{hdr: hdr("Accept-Encoding", "gzip, br"), calls: 2, body: "v1"},
				{hdr: hdr("Accept-Encoding", "identity"), calls: 2, body: "v2"},
				{calls: 3, cs: "fwd=vary-miss", body: "v3"},
				{calls: 3, body: "v3"},
			}},
		{name: "Vary star never matches", rfc: "§4.1", origin: varyOrigin("*"),
			steps: []step{{calls: 1, cs: "detail=vary-star"}, {calls: 2, cs: "fwd=uri-miss"}}},
		{name: "POST invalidates the URI", rfc: "§4.4", origin: serveBody(200, "Cache-Control", "max-age=60"),
			steps: []step{
				{calls: 1, body: "v1"},
				{method: http.MethodPost, calls: 2, cs: "fwd=method"},
				{calls: 3, body: "v3", cs: "fwd=uri-miss"},
			}},
		{name: "failed DELETE does not invalidate", rfc: "§4.4", origin: deleteFails(),
			steps: []step{{calls: 1}, {method: http.MethodDelete, status: 500, calls: 2}, {calls: 2, cs: "hit"}}},
		{name: "PUT invalidates its Location on the same host", rfc: "§4.4", origin: putWithLocation(),
			steps: []step{
				{path: "/other", calls: 1},
				{method: http.MethodPut, status: 201, calls: 2},
				{path: "/other", calls: 3, cs: "fwd=uri-miss"},
			}},
		{name: "HEAD answered from the GET entry", rfc: "§4, §9.3.2 of RFC 9110", origin: serveBody(200, "Cache-Control", "max-age=60"),
			steps: []step{
				{calls: 1},
				{method: http.MethodHead, calls: 1, cs: "hit", want: hdr("Content-Length", "2")},
			}},
	}
}

// lastModifiedOrigin serves max-age=10 with a Last-Modified and answers
// If-Modified-Since with 304.
func lastModifiedOrigin() originFunc {
	return func(w http.ResponseWriter, r *http.Request, n int) {
		if r.Header.Get("If-Modified-Since") != "" {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		serveBody(200, "Cache-Control", "max-age=10", "Last-Modified", "Mon, 31 Dec 2029 23:30:00 GMT")(w, r, n)
	}
}

func varyOrigin(vary string) originFunc {
	return serveBody(200, "Cache-Control", "max-age=60", "Vary", vary)
}

func deleteFails() originFunc {
	return func(w http.ResponseWriter, r *http.Request, n int) {
		if r.Method == http.MethodDelete {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		serveBody(200, "Cache-Control", "max-age=60")(w, r, n)
	}
}

func putWithLocation() originFunc {
	return func(w http.ResponseWriter, r *http.Request, n int) {
		if r.Method == http.MethodPut {
			w.Header().Set("Location", "/other")
			w.WriteHeader(http.StatusCreated)
			return
		}
		serveBody(200, "Cache-Control", "max-age=60")(w, r, n)
	}
}

func storageCases() []semCase {
	return []semCase{
		{name: "response no-store", rfc: "§5.2.2.5, §3", origin: serveBody(200, "Cache-Control", "no-store, max-age=60"),
			steps: []step{{calls: 1, cs: "detail=no-store"}, {calls: 2}}},
		{name: "request no-store", rfc: "§5.2.1.5", origin: serveBody(200, "Cache-Control", "max-age=60"),
			steps: []step{{hdr: hdr("Cache-Control", "no-store"), calls: 1, cs: "detail=no-store"}, {calls: 2, cs: "stored"}, {calls: 2, cs: "hit"}}},
		{name: "private is not stored by a shared cache", rfc: "§5.2.2.7, §3", origin: serveBody(200, "Cache-Control", "private, max-age=60"),
			steps: []step{{calls: 1, cs: "detail=private"}, {calls: 2}}},
		{name: "Authorization request not stored", rfc: "§3.5", origin: serveBody(200, "Cache-Control", "max-age=60"),
			steps: []step{
				{hdr: hdr("Authorization", "Bearer a"), calls: 1, cs: "detail=authorization"},
				{hdr: hdr("Authorization", "Bearer a"), calls: 2},
			}},
		{name: "Authorization with public is stored", rfc: "§3.5", origin: serveBody(200, "Cache-Control", "public, max-age=60"),
			steps: []step{
				{hdr: hdr("Authorization", "Bearer a"), calls: 1, cs: "stored"},
				{hdr: hdr("Authorization", "Bearer b"), calls: 1, cs: "hit"},
			}},
		{name: "Authorization request does not reuse a non-public entry", rfc: "§3.5", origin: serveBody(200, "Cache-Control", "max-age=60"),
			steps: []step{{calls: 1, cs: "stored"}, {hdr: hdr("Authorization", "Bearer a"), calls: 2, cs: "fwd=miss"}}},
		{name: "Set-Cookie not stored by default", rfc: "§3 (choice), §7.3", origin: serveBody(200, "Cache-Control", "max-age=60", "Set-Cookie", "s=1"),
			steps: []step{{calls: 1, cs: "detail=set-cookie", want: hdr("Set-Cookie", "s=1")}, {calls: 2}}},
		{name: "Set-Cookie stripped when configured", rfc: "§3 (choice)", opts: Options{SetCookie: SetCookieStrip},
			origin: serveBody(200, "Cache-Control", "max-age=60", "Set-Cookie", "s=1"),
			steps:  []step{{calls: 1, cs: "stored", want: hdr("Set-Cookie", "s=1")}, {calls: 1, cs: "hit", want: hdr("Set-Cookie", "-")}}},
		{name: "no freshness and no validator is not stored", rfc: "§3, §4.2.2", origin: serveBody(200),
			steps: []step{{calls: 1, cs: "detail=not-fresh"}, {calls: 2}}},
		{name: "large object streamed, not stored", rfc: "§3 (bound)", opts: Options{MaxObjectBytes: 1024},
			origin: largeOrigin(4096, false),
			steps:  []step{{calls: 1, cs: "detail=too-large"}, {calls: 2}}},
		{name: "large chunked object not stored", rfc: "§3 (bound)", opts: Options{MaxObjectBytes: 1024},
			origin: largeOrigin(4096, true),
			steps:  []step{{calls: 1}, {calls: 2, cs: "fwd=uri-miss"}}},
	}
}

func keyCases() []semCase {
	return []semCase{
		{name: "authenticated caller bypasses", rfc: "§3.5 (choice)", origin: serveBody(200, "Cache-Control", "public, max-age=60"),
			steps: []step{
				{hdr: hdr("X-Test-Consumer", "alice"), calls: 1, cs: "fwd=bypass; detail=authenticated"},
				{hdr: hdr("X-Test-Consumer", "alice"), calls: 2},
			}},
		{name: "authenticated callers keyed by consumer", rfc: "§3.5 (choice)", opts: Options{CacheAuthenticated: true},
			origin: serveBody(200, "Cache-Control", "max-age=60"),
			steps: []step{
				{hdr: hdr("X-Test-Consumer", "alice"), calls: 1, cs: "stored"},
				{hdr: hdr("X-Test-Consumer", "alice"), calls: 1, cs: "hit", body: "v1"},
				{hdr: hdr("X-Test-Consumer", "bob"), calls: 2, cs: "fwd=vary-miss", body: "v2"},
				{calls: 3, body: "v3"},
			}},
		{name: "users of one consumer keep their entries apart", rfc: "§3.5 (choice)", opts: Options{CacheAuthenticated: true},
			origin: serveBody(200, "Cache-Control", "max-age=60"),
			steps: []step{
				{hdr: user("introspection", "app", "alice"), calls: 1, cs: "stored"},
				{hdr: user("introspection", "app", "alice"), calls: 1, cs: "hit", body: "v1"},
				{hdr: user("introspection", "app", "bob"), calls: 2, cs: "fwd=vary-miss", body: "v2"},
				{hdr: user("jwt", "alice", "alice"), calls: 3, body: "v3"},
				{hdr: user("basic", "staff", "ops"), calls: 4, cs: "stored"},
				{hdr: user("basic", "staff", "dev"), calls: 5, body: "v5"},
				{hdr: user("ext_authz", "carol", ""), calls: 6, cs: "stored"},
				{hdr: user("ext_authz", "carol", ""), calls: 6, cs: "hit", body: "v6"},
			}},
		{name: "no single user: bypassed", rfc: "§3.5 (choice)", opts: Options{CacheAuthenticated: true},
			origin: serveBody(200, "Cache-Control", "public, max-age=60"),
			steps: []step{
				{hdr: user("introspection", "app", ""), calls: 1, cs: "fwd=bypass; detail=no-user"},
				{hdr: user("introspection", "app", ""), calls: 2, cs: "fwd=bypass; detail=no-user"},
				{hdr: user("jwt", "", ""), calls: 3, cs: "fwd=bypass; detail=no-user"},
				{hdr: user("ext_authz", "", ""), calls: 4, cs: "fwd=bypass; detail=no-user"},
				{hdr: user("ext_authz", "", ""), calls: 5, cs: "fwd=bypass; detail=no-user"},
				{calls: 6, cs: "stored"},
				{hdr: user("jwt", "", ""), calls: 7, cs: "fwd=bypass; detail=no-user"},
			}},
		{name: "the anonymous consumer is everyone without credentials: shared", rfc: "§3.5 (choice)",
			origin: serveBody(200, "Cache-Control", "max-age=60"),
			steps: []step{
				{hdr: hdr("X-Test-Consumer", "anon:guest"), calls: 1, cs: "stored"},
				{calls: 1, cs: "hit", body: "v1"},
			}},
		{name: "Range bypasses", rfc: "§3.3 (choice: no partial content)", origin: serveBody(200, "Cache-Control", "max-age=60"),
			steps: []step{{hdr: hdr("Range", "bytes=0-0"), calls: 1, cs: "fwd=bypass; detail=range"}, {calls: 2, cs: "stored"}}},
		{name: "IgnoreQuery shares one entry", rfc: "§2 (key)", opts: Options{IgnoreQuery: true},
			origin: serveBody(200, "Cache-Control", "max-age=60"),
			steps:  []step{{path: "/r?a=1", calls: 1}, {path: "/r?a=2", calls: 1, cs: "hit"}}},
		{name: "KeyQueryExclude drops tracking parameters", rfc: "§2 (key)", opts: Options{KeyQueryExclude: []string{"utm"}},
			origin: serveBody(200, "Cache-Control", "max-age=60"),
			steps: []step{
				{path: "/r?b=2&a=1&utm=x", calls: 1},
				{path: "/r?a=1&b=2&utm=y", calls: 1, cs: "hit"},
				{path: "/r?a=1", calls: 2},
			}},
		{name: "KeyHeaders split entries", rfc: "§2 (key)", opts: Options{KeyHeaders: []string{"X-Tenant"}},
			origin: serveBody(200, "Cache-Control", "max-age=60"),
			steps: []step{
				{hdr: hdr("X-Tenant", "a"), calls: 1},
				{hdr: hdr("X-Tenant", "b"), calls: 2},
				{hdr: hdr("X-Tenant", "a"), calls: 2, body: "v1"},
			}},
	}
}

// largeOrigin writes size bytes with max-age=60, flushing (no
// Content-Length) when chunked.
func largeOrigin(size int, chunked bool) originFunc {
	return func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Cache-Control", "max-age=60")
		if !chunked {
			w.Header().Set("Content-Length", strconv.Itoa(size))
		}
		for i := 0; i < size; i += 512 {
			_, _ = io.WriteString(w, strings.Repeat("x", 512))
			if chunked {
				w.(http.Flusher).Flush()
			}
		}
	}
}

func staleCases() []semCase {
	return []semCase{
		{name: "must-revalidate refuses stale on error", rfc: "§5.2.2.2, §4.2.4", origin: failAfter("max-age=10, must-revalidate, stale-if-error=60", 500),
			steps: []step{
				{calls: 1},
				{advance: 20 * time.Second, hdr: hdr("Cache-Control", "max-stale"), status: 500, calls: 2},
				{down: true, status: 502, calls: 3},
			}},
		{name: "stale-if-error on 500", rfc: "RFC 5861 §4, §4.2.4", origin: failAfter("max-age=10, stale-if-error=60", 500),
			steps: []step{
				{calls: 1},
				{advance: 20 * time.Second, calls: 2, body: "v1", cs: "fwd=stale; fwd-status=500; detail=stale-if-error"},
				{advance: 60 * time.Second, status: 500, calls: 3},
			}},
		{name: "stale-if-error on connection failure", rfc: "RFC 5861 §4", origin: serveBody(200, "Cache-Control", "max-age=10, stale-if-error=60"),
			steps: []step{
				{calls: 1},
				{advance: 20 * time.Second, down: true, calls: 2, body: "v1", cs: "fwd-status=502; detail=stale-if-error"},
			}},
		{name: "stale-while-revalidate serves stale and refreshes once", rfc: "RFC 5861 §3, §4.2.4", origin: serveBody(200, "Cache-Control", "max-age=10, stale-while-revalidate=30"),
			steps: []step{
				{calls: 1},
				{advance: 15 * time.Second, calls: 2, wait: true, body: "v1", cs: "hit; ttl=-5; detail=stale-while-revalidate"},
				{calls: 2, body: "v2", cs: "hit; ttl=10"},
				{advance: 50 * time.Second, calls: 3, cs: "fwd=stale", body: "v3"},
			}},
	}
}

// user is the request headers of an identity (see testIdentity).
func user(method, consumer, subject string) map[string]string {
	return hdr("X-Test-Method", method, "X-Test-Consumer", consumer, "X-Test-Subject", subject)
}
