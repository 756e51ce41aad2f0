// Package credauth holds Bouncer's credential authenticators other than
// JWT: API keys, HTTP Basic, OAuth 2.0 token introspection (RFC 7662) and
// an external HTTP authorization service. Each is an l7.Authenticator
// built once at config load from its own Options struct and safe for
// concurrent use; the l7 authentication policy calls Authenticate on the
// request's goroutine.
//
// Errors returned by Authenticate are l7.ErrNoCredentials (the request has
// no credential of the kind), an *l7.AuthError (a bad credential, or the
// authority could not be asked: Status 503), or, for ExtAuthz only, a
// *Denied carrying the external service's answer.
package credauth

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/bouncer-proxy/bouncer/l7/policy/querycred"
)

// Consumer is a configured client of the gateway: the name that rate
// limits, authorization rules and the access log see, and free-form
// metadata handed on in the Identity. Metadata is shared by every request
// of the consumer and must not be modified after the authenticator is
// built.
type Consumer struct {
	Name     string
	Metadata map[string]string
}

// SourceKind is where a bearer token is read from.
type SourceKind uint8

// Token source kinds.
const (
	// SourceHeader reads a request header. For Authorization the value
	// must use the Bearer scheme (RFC 6750 §2.1; a different scheme
	// means "no token here"); any other header carries the bare token.
	SourceHeader SourceKind = iota + 1
	// SourceCookie reads a cookie's value.
	SourceCookie
	// SourceQuery reads a query parameter (RFC 6750 §2.3) and removes it
	// from the request URL, so the token is neither proxied nor logged.
	SourceQuery
)

// Source is one place a bearer token may be carried.
type Source struct {
	Kind SourceKind
	Name string // header, cookie or parameter name
}

// defaultSources is the Authorization: Bearer header alone.
var defaultSources = []Source{{Kind: SourceHeader, Name: "Authorization"}}

// validateSources checks every source and returns the canonical list
// (defaultSources when none are given).
func validateSources(in []Source) ([]Source, error) {
	if len(in) == 0 {
		return defaultSources, nil
	}
	out := make([]Source, len(in))
	for i, s := range in {
		if s.Name == "" {
			return nil, fmt.Errorf("sources[%d]: empty name", i)
		}
		switch s.Kind {
		case SourceHeader:
			if !validHeaderName(s.Name) {
				return nil, fmt.Errorf("sources[%d]: invalid header name %q", i, s.Name)
			}
			s.Name = http.CanonicalHeaderKey(s.Name)
		case SourceCookie, SourceQuery:
		default:
			return nil, fmt.Errorf("sources[%d]: unknown kind %d", i, s.Kind)
		}
		out[i] = s
	}
	return out, nil
}

// bearerToken returns the first token found in the sources, in order. ok
// is false when none carries one; malformed is set for an Authorization
// header that names the Bearer scheme without a usable token. Every query
// source is removed from the URL, even when a token was found earlier, so
// no token is proxied.
func bearerToken(r *http.Request, sources []Source) (token string, ok, malformed bool) {
	for _, s := range sources {
		var v string
		var found, bad bool
		switch s.Kind {
		case SourceHeader:
			v, found, bad = headerToken(r.Header.Get(s.Name), s.Name == "Authorization")
		case SourceCookie:
			if c, err := r.Cookie(s.Name); err == nil {
				v, found = c.Value, c.Value != ""
			}
		case SourceQuery:
			v, found = querycred.Take(r, s.Name)
			found = found && v != ""
		}
		if ok || malformed {
			continue
		}
		token, ok, malformed = v, found, bad
	}
	return token, ok, malformed
}

// queryParams names the query sources among sources.
func queryParams(sources []Source) []string {
	var names []string
	for _, s := range sources {
		if s.Kind == SourceQuery {
			names = append(names, s.Name)
		}
	}
	return names
}

// headerToken reads a token from a header value: the bare value, or for
// Authorization the credentials of the Bearer scheme (RFC 6750 §2.1).
func headerToken(v string, authorization bool) (token string, found, malformed bool) {
	if v == "" {
		return "", false, false
	}
	if !authorization {
		return v, true, false
	}
	scheme, rest, _ := strings.Cut(v, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", false, false
	}
	rest = strings.TrimLeft(rest, " ")
	if rest == "" || strings.ContainsAny(rest, " \t") {
		return "", false, true
	}
	return rest, true, false
}

// tokenKey is the cache and singleflight key of a secret: its SHA-256, so
// caches never hold credentials in the clear.
func tokenKey(secret string) [32]byte { return sha256.Sum256([]byte(secret)) }

// canonicalHeaders validates header names and returns them canonicalised.
// what names the option in errors.
func canonicalHeaders(what string, names []string) ([]string, error) {
	out := make([]string, 0, len(names))
	for i, n := range names {
		if !validHeaderName(n) {
			return nil, fmt.Errorf("%s[%d]: invalid header name %q", what, i, n)
		}
		out = append(out, http.CanonicalHeaderKey(n))
	}
	return out, nil
}

// validHeaderName reports whether s is an RFC 9110 §5.1 field name (a token).
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}

// validEndpoint checks that raw is an absolute http(s) URL with a host.
func validEndpoint(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, fmt.Errorf("url is required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("url %q: want an absolute http or https url", raw)
	}
	return u, nil
}

// maxIdlePerHost bounds the idle connections an authenticator keeps to its
// authorization service.
const maxIdlePerHost = 16

// newClient is a dedicated client for one authorization service: its own
// pool with bounded idle connections, an overall timeout per call, and
// redirects returned rather than followed (an authorization answer is
// never fetched from somewhere else).
func newClient(timeout time.Duration) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = maxIdlePerHost
	t.MaxIdleConnsPerHost = maxIdlePerHost
	t.MaxConnsPerHost = 0
	t.IdleConnTimeout = 90 * time.Second
	t.ResponseHeaderTimeout = timeout
	return &http.Client{
		Transport: t,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
