package l7

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// Identity is who a request's credentials say the caller is. An
// authentication policy sets it on the request's Info; authorization, rate
// limits keyed by consumer or claim, the cache and the access log read it.
// It is not changed after it is set.
type Identity struct {
	// Method is the authentication that produced it: jwt, api_key, basic,
	// introspection, ext_authz, mtls or anonymous.
	Method string
	// Consumer is the configured consumer the credential belongs to (API
	// keys, basic users, mTLS mappings), or the token's subject.
	Consumer string
	// Subject is the token's sub claim, or the user name; may be empty.
	Subject string
	// Claims are a token's claims (JWT, introspection); nil otherwise.
	Claims map[string]any
	// Scopes are the granted scopes (the scope or scp claim, split).
	Scopes []string
	// Metadata is the consumer's configured metadata.
	Metadata map[string]string
	// Forward are headers to set on the request sent upstream (claims to
	// headers, an external authorizer's additions). The policy removes
	// any client-sent header of the same name first.
	Forward http.Header
}

// Authenticator checks one kind of credential. Implementations are built
// once at config load and safe for concurrent use.
type Authenticator interface {
	// Authenticate returns the caller's identity; ErrNoCredentials when
	// the request carries no credential of this kind (the next method of
	// the route is tried); or an *AuthError when it carries a bad one.
	Authenticate(r *http.Request) (*Identity, error)
}

// ErrNoCredentials says a request has no credential of the kind an
// Authenticator looks for.
var ErrNoCredentials = errors.New("no credentials")

// AuthError is a failed authentication: rendered as a 401 (or Status) JSON
// error with a WWW-Authenticate challenge that says why, as RFC 6750 §3
// describes for bearer tokens.
type AuthError struct {
	Status int    // 401 when 0; 503 when the authority could not be asked
	Scheme string // challenge scheme: Bearer, Basic, ApiKey
	Realm  string
	Code   string // RFC 6750 error code: invalid_request, invalid_token, insufficient_scope; may be empty
	Reason string // safe to show: "token expired", "unknown key id"
	Cause  error  // logged, never sent
}

func (e *AuthError) Error() string {
	if e.Cause != nil {
		return e.Scheme + ": " + e.Reason + ": " + e.Cause.Error()
	}
	return e.Scheme + ": " + e.Reason
}

func (e *AuthError) Unwrap() error { return e.Cause }

// Challenge is the WWW-Authenticate value: Bearer realm="api",
// error="invalid_token", error_description="token expired".
func (e *AuthError) Challenge() string {
	var b strings.Builder
	b.WriteString(e.Scheme)
	sep := " "
	param := func(k, v string) {
		if v == "" {
			return
		}
		b.WriteString(sep)
		b.WriteString(k)
		b.WriteString(`="`)
		b.WriteString(quoteEscape(v))
		b.WriteByte('"')
		sep = ", "
	}
	param("realm", e.Realm)
	param("error", e.Code)
	param("error_description", e.Reason)
	return b.String()
}

// HTTPError is the JSON error rendered for e.
func (e *AuthError) HTTPError() *Error {
	status := e.Status
	if status == 0 {
		status = http.StatusUnauthorized
	}
	code := CodeUnauthenticated
	switch status {
	case http.StatusServiceUnavailable:
		code = CodeUnavailable
	case http.StatusForbidden:
		code = CodeForbidden
	}
	return &Error{Status: status, Code: code, Message: e.Reason, cause: e}
}

// WriteAuthError sets the challenge and writes e's JSON error.
func WriteAuthError(w http.ResponseWriter, r *http.Request, e *AuthError) {
	if e.Status == 0 || e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", e.Challenge())
	}
	WriteError(w, r, e.HTTPError())
}

// quoteEscape makes v safe inside a quoted-string: backslash and quote are
// escaped, control characters dropped.
func quoteEscape(v string) string {
	if !strings.ContainsAny(v, "\"\\") && !hasCTL(v) {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func hasCTL(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] == 0x7f {
			return true
		}
	}
	return false
}

// TakeQueryParam returns the first value of the query parameter name and
// removes every occurrence of it from r.URL (and r.RequestURI), leaving
// the other parameters byte for byte as the client sent them. Credentials
// read from the query are taken this way, so they are neither proxied
// upstream nor written to the access log.
func TakeQueryParam(r *http.Request, name string) (value string, found bool) {
	raw := r.URL.RawQuery
	// Fast path: the name cannot be there, not even percent-encoded.
	if raw == "" || !strings.Contains(raw, name) && !strings.Contains(raw, "%") {
		return "", false
	}
	kept := make([]string, 0, strings.Count(raw, "&")+1)
	for part := range strings.SplitSeq(raw, "&") {
		k, v, _ := strings.Cut(part, "=")
		if uk, err := url.QueryUnescape(k); err != nil || uk != name {
			kept = append(kept, part)
			continue
		}
		if !found {
			value, _ = url.QueryUnescape(v)
			found = true
		}
	}
	if !found {
		return "", false
	}
	r.URL.RawQuery = strings.Join(kept, "&")
	if r.RequestURI != "" {
		r.RequestURI = r.URL.RequestURI()
	}
	return value, true
}
