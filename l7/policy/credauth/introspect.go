package credauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/bouncer-proxy/bouncer/l7"
)

// IntrospectionOptions configures an Introspection authenticator: opaque
// bearer tokens checked with an OAuth 2.0 token introspection endpoint
// (RFC 7662).
type IntrospectionOptions struct {
	// URL is the introspection endpoint (absolute http or https).
	URL string
	// ClientID and ClientSecret authenticate the gateway to the endpoint
	// with HTTP Basic (RFC 6749 §2.3.1, both form-encoded first). Empty
	// ClientID: no client authentication.
	ClientID, ClientSecret string
	// TokenTypeHint is sent as token_type_hint when set (RFC 7662 §2.1),
	// e.g. "access_token".
	TokenTypeHint string
	// Timeout bounds one call to the endpoint; default 2s.
	Timeout time.Duration
	// CacheTTL is how long an active answer is reused; default 60s, never
	// beyond the token's exp; negative disables caching.
	CacheTTL time.Duration
	// NegativeCacheTTL is how long a rejected token (inactive, expired,
	// wrong issuer or audience) is remembered; default 10s; negative
	// disables. Endpoint failures are never cached.
	NegativeCacheTTL time.Duration
	// MaxCacheEntries bounds the cache; default 10000.
	MaxCacheEntries int
	// Sources are where the token is read, in order; default the
	// Authorization header with the Bearer scheme.
	Sources []Source
	// RequiredAudiences, when set, requires the response's aud (string
	// or array) to contain at least one of them.
	RequiredAudiences []string
	// Issuer, when set, must equal the response's iss.
	Issuer string
	// Realm goes into the Bearer challenge; optional.
	Realm string
}

// Introspection authenticates bearer tokens by asking an RFC 7662
// endpoint. Answers are cached by the SHA-256 of the token, and
// concurrent requests with the same uncached token share one call. The
// endpoint being down, slow or answering other than 200 with a JSON object
// fails closed: an AuthError with Status 503.
type Introspection struct {
	endpoint    string
	user, pass  string
	hint        string
	ttl, negTTL time.Duration
	sources     []Source
	audiences   []string
	issuer      string
	realm       string
	client      *http.Client
	cache       *ttlCache[*introspected]
	flight      flight[*introspected]
	now         func() time.Time
}

// introspected is one endpoint answer, as cached: an identity template or
// the reason the token is refused.
type introspected struct {
	id     *l7.Identity
	reason string
	code   string
}

var _ l7.Authenticator = (*Introspection)(nil)

// maxUnixSeconds is year 33658: an exp beyond it is treated as no exp
// rather than converted with overflow.
const maxUnixSeconds = 1e12

// maxIntrospectionBody bounds the endpoint's answer.
const maxIntrospectionBody = 1 << 20

// NewIntrospection validates opts and applies the defaults.
func NewIntrospection(opts IntrospectionOptions) (*Introspection, error) {
	u, err := validEndpoint(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("introspection: %w", err)
	}
	if opts.ClientID == "" && opts.ClientSecret != "" {
		return nil, errors.New("introspection: client secret without client id")
	}
	if opts.Timeout < 0 || opts.MaxCacheEntries < 0 {
		return nil, errors.New("introspection: timeout and max cache entries may not be negative")
	}
	sources, err := validateSources(opts.Sources)
	if err != nil {
		return nil, fmt.Errorf("introspection: %w", err)
	}
	if slices.Contains(opts.RequiredAudiences, "") {
		return nil, errors.New("introspection: empty required audience")
	}
	in := &Introspection{endpoint: u.String(), hint: opts.TokenTypeHint,
		ttl: orDefault(opts.CacheTTL, time.Minute), negTTL: orDefault(opts.NegativeCacheTTL, 10*time.Second),
		sources: sources, audiences: opts.RequiredAudiences, issuer: opts.Issuer, realm: opts.Realm,
		client: newClient(orDefault(opts.Timeout, 2*time.Second)), now: time.Now}
	if opts.ClientID != "" {
		in.user, in.pass = url.QueryEscape(opts.ClientID), url.QueryEscape(opts.ClientSecret)
	}
	if in.ttl > 0 || in.negTTL > 0 {
		in.cache = newTTLCache[*introspected](orDefault(opts.MaxCacheEntries, 10000))
	}
	return in, nil
}

// Authenticate implements l7.Authenticator. It blocks for at most the
// configured Timeout on a cache miss, or until r's context ends. The
// Identity has Method "introspection", Subject the user: the sub member,
// else username (empty when the answer has neither: a token the client
// holds for itself, or an answer that does not say whose it is), Consumer
// client_id, else username, else sub, Claims the whole answer and Scopes
// the split scope member; Claims and Scopes are shared with other
// requests of the same token and read-only.
func (in *Introspection) Authenticate(r *http.Request) (*l7.Identity, error) {
	token, ok, malformed := bearerToken(r, in.sources)
	if malformed {
		return nil, &l7.AuthError{Scheme: "Bearer", Realm: in.realm, Code: "invalid_request",
			Reason: "malformed authorization header"}
	}
	if !ok {
		return nil, l7.ErrNoCredentials
	}
	key := tokenKey(token)
	var res *introspected
	hit := false
	if in.cache != nil {
		res, hit = in.cache.get(key, in.now())
	}
	if !hit {
		var err error
		res, err = in.flight.do(r.Context(), key, func() (*introspected, error) { return in.lookup(key, token) })
		if err != nil {
			return nil, &l7.AuthError{Status: http.StatusServiceUnavailable, Scheme: "Bearer", Realm: in.realm,
				Reason: "authorization server unavailable", Cause: err}
		}
	}
	if res.reason != "" {
		return nil, &l7.AuthError{Scheme: "Bearer", Realm: in.realm, Code: res.code, Reason: res.reason}
	}
	id := *res.id
	return &id, nil
}

// CloseIdleConnections closes the idle connections to the endpoint; call
// it when the authenticator is retired.
func (in *Introspection) CloseIdleConnections() { in.client.CloseIdleConnections() }

// QueryParams names the query parameters tokens are read from, for
// querycred.Strip.
func (in *Introspection) QueryParams() []string { return queryParams(in.sources) }

// lookup asks the endpoint and caches the answer.
func (in *Introspection) lookup(key [32]byte, token string) (*introspected, error) {
	claims, err := in.call(token)
	if err != nil {
		return nil, err
	}
	now := in.now()
	res, expiry := in.evaluate(claims, now)
	if in.cache != nil && expiry.After(now) {
		in.cache.put(key, res, expiry, now)
	}
	return res, nil
}

// call POSTs the token and decodes the JSON object answered with 200.
func (in *Introspection) call(token string) (map[string]any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), in.client.Timeout)
	defer cancel()
	form := url.Values{"token": {token}}
	if in.hint != "" {
		form.Set("token_type_hint", in.hint)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("introspection request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if in.user != "" {
		req.SetBasicAuth(in.user, in.pass)
	}
	resp, err := in.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("introspection: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxIntrospectionBody))
		return nil, fmt.Errorf("introspection: endpoint answered %d", resp.StatusCode)
	}
	var claims map[string]any
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxIntrospectionBody)).Decode(&claims); err != nil {
		return nil, fmt.Errorf("introspection: decode answer: %w", err)
	}
	if claims == nil {
		return nil, errors.New("introspection: answer is not a json object")
	}
	return claims, nil
}

// evaluate turns an answer into a result and the time it may be cached
// until (not after now: do not cache).
func (in *Introspection) evaluate(claims map[string]any, now time.Time) (*introspected, time.Time) {
	reject := func(reason string) (*introspected, time.Time) {
		return &introspected{code: "invalid_token", reason: reason}, now.Add(in.negTTL)
	}
	if active, _ := claims["active"].(bool); !active {
		return reject("token not active")
	}
	expiry := now.Add(in.ttl)
	if exp, ok := claims["exp"].(float64); ok && exp < maxUnixSeconds {
		expAt := time.Unix(int64(exp), 0)
		if !now.Before(expAt) {
			return reject("token expired")
		}
		expiry = minTime(expiry, expAt)
	}
	if in.issuer != "" && claims["iss"] != in.issuer {
		return reject("wrong issuer")
	}
	if len(in.audiences) > 0 && !audienceMatch(claims["aud"], in.audiences) {
		return reject("wrong audience")
	}
	id := &l7.Identity{Method: "introspection", Subject: firstString(claims, "sub", "username"),
		Consumer: firstString(claims, "client_id", "username", "sub"), Claims: claims}
	if scope, ok := claims["scope"].(string); ok {
		id.Scopes = strings.Fields(scope)
	}
	return &introspected{id: id}, expiry
}

// audienceMatch reports whether aud (a string or an array of strings)
// holds one of want.
func audienceMatch(aud any, want []string) bool {
	switch a := aud.(type) {
	case string:
		return slices.Contains(want, a)
	case []any:
		for _, v := range a {
			if s, ok := v.(string); ok && slices.Contains(want, s) {
				return true
			}
		}
	}
	return false
}

func firstString(m map[string]any, keys ...string) string {
	for _, k := range keys {
		if s, ok := m[k].(string); ok && s != "" {
			return s
		}
	}
	return ""
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// orDefault returns v, or def when v is zero.
func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
