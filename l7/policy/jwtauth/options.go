// Package jwtauth authenticates requests that carry a JSON Web Token
// (RFC 7519) signed with a key from a remote JWKS document, local key files,
// or a shared secret. A Verifier is an l7.Authenticator built once per config
// load; the remote key sets it reads live in a KeySets registry that the
// process keeps across reloads.
//
// Every failure is an *l7.AuthError with status 401 and a Bearer challenge
// (RFC 6750 §3), as Envoy's jwt_authn answers: a token the gateway cannot
// verify is not accepted, whatever the reason. A token whose kid the JWKS
// set lacks causes one fetch (at most one per MinRefreshInterval, shared
// by concurrent requests) and then fails with "unknown key id". While the
// JWKS document has never been fetched, requests wait for the fetch in
// flight and then fail with "signing keys unavailable"; the cause (the
// fetch error) is logged, never sent.
package jwtauth

import (
	"time"
)

// Options configure a Verifier. The zero value of every field but the key
// sources takes the default its comment names. At least one of JWKSURL,
// KeyFiles and Secret must be set, and Secret cannot be combined with the
// other two (a verifier either trusts asymmetric keys or one shared secret,
// so an attacker can never make it use a public key as an HMAC secret).
type Options struct {
	// JWKSURL is an http or https address of a JWKS document (RFC 7517
	// §5). It is fetched through the KeySets given to New, cached, and
	// refreshed every RefreshInterval and when a token names an unknown
	// key id.
	JWKSURL string
	// KeyFiles are local files holding public keys: PEM ("PUBLIC KEY",
	// "RSA PUBLIC KEY" or "CERTIFICATE" blocks, any number per file) or a
	// JWKS / single JWK JSON document. They are read once, by New. PEM keys
	// have no key id and verify tokens with any kid or none.
	KeyFiles []string
	// Secret is the HMAC key for HS256, HS384 and HS512. Only set it on
	// purpose: it must be at least 32 bytes (48 for HS384, 64 for HS512,
	// RFC 7518 §3.2) and excludes JWKSURL and KeyFiles.
	Secret []byte
	// Algorithms are the accepted "alg" values. Default: with Secret, the
	// HS algorithms its length allows; with a JWKS URL every asymmetric
	// algorithm (RS256/384/512, PS256/384/512, ES256/384/512, EdDSA);
	// with key files only, the algorithms of the keys they hold. "none"
	// is never accepted.
	Algorithms []string
	// Issuers, when set, are the accepted "iss" values; the token must
	// carry one of them.
	Issuers []string
	// Audiences, when set, require the token's "aud" to contain at least
	// one of them.
	Audiences []string
	// ClockSkew is the leeway for exp, nbf and iat. Default 0.
	ClockSkew time.Duration
	// RequireExp refuses tokens without an "exp" claim. nil means true
	// (the default); point it at false to accept tokens that never
	// expire.
	RequireExp *bool
	// Sources say where the token is read, tried in order; the first one
	// present is used. Default: the Authorization header with the Bearer
	// scheme.
	Sources []Source
	// ClaimsToHeaders maps a claim name to a header set on the upstream
	// request. A name with dots ("realm_access.roles") walks nested
	// objects when no top-level claim has the whole name. Strings are sent
	// as they are, numbers and booleans as text, arrays joined with ",",
	// objects as compact JSON; a value that is not a valid header value
	// (CR, LF, other control characters) is dropped.
	ClaimsToHeaders map[string]string
	// Realm is the realm of the WWW-Authenticate challenge; may be empty.
	Realm string
	// FetchTimeout bounds one JWKS fetch, and so how long a request waits
	// for the keys. Default 5s.
	FetchTimeout time.Duration
	// RefreshInterval is how often the JWKS document is fetched again in
	// the background. Default 10m.
	RefreshInterval time.Duration
	// MinRefreshInterval is the least time between two fetches caused by
	// tokens with an unknown key id; it also paces retries while the
	// document has never been fetched. Default 30s.
	MinRefreshInterval time.Duration

	// CacheSize bounds the verified tokens remembered, so a repeated token
	// costs a map lookup rather than a signature check; 0: no cache.
	CacheSize int
	// CacheTTL is the longest a verified token is remembered (never past
	// its exp); 0: no cache.
	CacheTTL time.Duration
}

// Source is one place a token may be read from.
type Source struct {
	// In is "header", "cookie" or "query".
	In string
	// Name is the header, cookie or query parameter name. For a header it
	// defaults to Authorization; cookie and query need one.
	Name string
	// Prefix is the authentication scheme in front of the token in a
	// header, matched case-insensitively and followed by spaces (RFC 9110
	// §11.4). Default: "Bearer" for the Authorization header, none for
	// other headers. A header whose value has another scheme is treated as
	// absent, so another authentication method can read it.
	Prefix string
}

// Source kinds.
const (
	InHeader = "header"
	InCookie = "cookie"
	InQuery  = "query"
)

// Defaults of the zero-valued Options fields.
const (
	DefaultFetchTimeout       = 5 * time.Second
	DefaultRefreshInterval    = 10 * time.Minute
	DefaultMinRefreshInterval = 30 * time.Second
)

// maxJWKSBytes bounds a JWKS response body.
const maxJWKSBytes = 1 << 20

// withDefaults returns o with its zero-valued durations and sources filled.
func (o Options) withDefaults() Options {
	if o.FetchTimeout == 0 {
		o.FetchTimeout = DefaultFetchTimeout
	}
	if o.RefreshInterval == 0 {
		o.RefreshInterval = DefaultRefreshInterval
	}
	if o.MinRefreshInterval == 0 {
		o.MinRefreshInterval = DefaultMinRefreshInterval
	}
	if len(o.Sources) == 0 {
		o.Sources = []Source{{In: InHeader}}
	}
	return o
}

// requireExp reads the RequireExp tri-state.
func (o Options) requireExp() bool { return o.RequireExp == nil || *o.RequireExp }
