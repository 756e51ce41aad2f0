package jwtauth

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/bouncer-proxy/bouncer/l7"
)

// Verifier authenticates requests by a JWT. Built once per config load by
// New; safe for concurrent use. Close it when the config it belongs to is
// retired, so the key set it shares can stop when no Verifier uses it.
type Verifier struct {
	parser     *jwt.Parser
	algs       []string
	static     *keyIndex  // key files; nil without
	secret     []byte     // HS secret; nil without
	remote     *remoteSet // JWKS URL's keys; nil without
	keySets    *KeySets
	issuers    []string
	requireExp bool
	sources    []source
	forward    []claimHeader
	realm      string
	cache      *tokenCache // nil: every token is verified

	// firstKey finds a token's key from the keys held; finalKey also
	// does after an on-demand fetch. Made once in New so a request
	// allocates no closure.
	firstKey, finalKey jwt.Keyfunc

	closeOnce sync.Once
}

// Sentinels the key lookup hands back through the jwt parser.
var (
	errNeedKeys        = errors.New("key not held; fetch the key set")
	errUnknownKID      = errors.New("no key for the token's kid and alg")
	errKeysUnavailable = errors.New("key set never fetched")
	errKeyAlgMismatch  = errors.New("the token's alg does not fit its key")
	errMalformedKID    = errors.New("kid is not a string")
	errWrongIssuer     = errors.New("issuer not accepted")
)

// Authenticate verifies the request's token. It returns
// l7.ErrNoCredentials when no source holds one, and an *l7.AuthError
// (Bearer scheme, 401) when the token is malformed or invalid. When the
// token names a key id the key set lacks, it may wait for one JWKS fetch
// (bounded by FetchTimeout and the request's context).
func (v *Verifier) Authenticate(r *http.Request) (*l7.Identity, error) {
	raw, err := v.token(r)
	if err != nil {
		return nil, err
	}
	now := v.now()
	if id, ok := v.cache.get(raw, now); ok {
		return id, nil
	}
	claims, err := v.verify(r.Context(), raw)
	if err != nil {
		return nil, err
	}
	id := v.identity(claims)
	v.cache.put(raw, claims, id, now)
	return id, nil
}

func (v *Verifier) now() time.Time { return time.Now() }

// Close releases the Verifier's share of its JWKS key set; the set's
// fetcher stops when no Verifier holds it. The Verifier keeps verifying
// with the keys last fetched. Idempotent.
func (v *Verifier) Close() {
	v.closeOnce.Do(func() {
		if v.remote != nil {
			v.keySets.release(v.remote)
		}
	})
}

// Algorithms returns the accepted algorithms.
func (v *Verifier) Algorithms() []string { return slices.Clone(v.algs) }

// verify parses and checks raw, fetching the key set once more when its
// key is not held.
func (v *Verifier) verify(ctx context.Context, raw string) (jwt.MapClaims, error) {
	var seen *keyIndex
	if v.remote != nil {
		seen = v.remote.current()
	}
	claims := jwt.MapClaims{}
	tok, err := v.parser.ParseWithClaims(raw, claims, v.firstKey)
	if errors.Is(err, errNeedKeys) {
		ferr := v.remote.refreshOnDemand(ctx, seen)
		claims = jwt.MapClaims{}
		tok, err = v.parser.ParseWithClaims(raw, claims, v.finalKey)
		if err != nil && ferr != nil {
			err = errors.Join(err, ferr)
		}
	}
	if err == nil && !v.issuerOK(claims) {
		err = errWrongIssuer
	}
	if err != nil {
		code, reason := v.classify(tok, claims, err)
		return nil, v.authError(code, reason, err)
	}
	return claims, nil
}

// keyFor is the jwt.Keyfunc: the secret for HS algorithms, else the keys
// matching the token's kid (any key of the alg's type without one) from the
// key files, then the JWKS set. Before the final pass, a key the JWKS set
// lacks asks for a fetch.
func (v *Verifier) keyFor(t *jwt.Token, final bool) (any, error) {
	alg := t.Method.Alg()
	if algFamily[alg] == famHMAC {
		if v.secret == nil {
			return nil, errKeyAlgMismatch
		}
		return v.secret, nil
	}
	kid, ok := "", true
	if k, has := t.Header["kid"]; has {
		if kid, ok = k.(string); !ok {
			return nil, errMalformedKID
		}
	}
	k, res := v.static.lookup(kid, alg)
	if res == found && (kid != "" || v.remote == nil) {
		return k, nil
	}
	if v.remote != nil {
		idx := v.remote.current()
		rk, rres := idx.lookup(kid, alg)
		switch {
		case res == found && idx == nil && !final:
			return nil, errNeedKeys // no kid: wait for the JWKS keys too
		case res == found: // no kid: every key of the type, from both
			return mergeKeys(k, rk), nil
		case rres == found:
			return rk, nil
		case rres == unfitKID:
			return nil, errKeyAlgMismatch
		case !final:
			return nil, errNeedKeys
		}
		if idx == nil && v.static == nil {
			return nil, errKeysUnavailable
		}
	}
	if res == unfitKID {
		return nil, errKeyAlgMismatch
	}
	if kl, ok := v.static.kidlessFor(alg); ok && kid != "" {
		return kl, nil
	}
	return nil, errUnknownKID
}

// mergeKeys joins two Keyfunc results; b may be nil. Only tokens without a
// kid, on a verifier with both key files and a JWKS URL, get here.
func mergeKeys(a, b any) any {
	if b == nil {
		return a
	}
	var set jwt.VerificationKeySet
	for _, k := range []any{a, b} {
		if ks, ok := k.(jwt.VerificationKeySet); ok {
			set.Keys = append(set.Keys, ks.Keys...)
		} else {
			set.Keys = append(set.Keys, k)
		}
	}
	return set
}

// issuerOK checks iss against Issuers when set.
func (v *Verifier) issuerOK(c jwt.MapClaims) bool {
	if len(v.issuers) == 0 {
		return true
	}
	iss, ok := c["iss"].(string)
	return ok && slices.Contains(v.issuers, iss)
}

// classify turns a verification error into an RFC 6750 code and a reason
// safe to show. A token's key problems come first, then its form and
// signature, then its claims.
func (v *Verifier) classify(tok *jwt.Token, claims jwt.MapClaims, err error) (code, reason string) {
	switch {
	case errors.Is(err, errKeysUnavailable):
		return "invalid_token", "signing keys unavailable"
	case errors.Is(err, errUnknownKID):
		return "invalid_token", "unknown key id"
	case errors.Is(err, errKeyAlgMismatch) || v.algRefused(tok):
		return "invalid_token", "algorithm not allowed"
	case errors.Is(err, jwt.ErrTokenMalformed) || errors.Is(err, errMalformedKID):
		return "invalid_token", "malformed token"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return "invalid_token", "bad signature"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "invalid_token", "token expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet) || errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "invalid_token", "token not yet valid"
	case errors.Is(err, jwt.ErrInvalidType):
		return "invalid_token", "malformed token"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		if _, ok := claims["exp"]; !ok && v.requireExp {
			return "invalid_token", "token has no expiry"
		}
		return "invalid_token", "wrong audience"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "invalid_token", "wrong audience"
	case errors.Is(err, errWrongIssuer):
		return "invalid_token", "wrong issuer"
	}
	return "invalid_token", "invalid token"
}

// algRefused says whether the token's alg is missing from the accepted
// list, or unknown to the jwt library (its Method is then nil).
func (v *Verifier) algRefused(tok *jwt.Token) bool {
	if tok == nil {
		return false
	}
	if tok.Method != nil {
		return !slices.Contains(v.algs, tok.Method.Alg())
	}
	alg, named := tok.Header["alg"].(string)
	return named && jwt.GetSigningMethod(alg) == nil
}

// authError is a Bearer challenge error with v's realm.
func (v *Verifier) authError(code, reason string, cause error) *l7.AuthError {
	return &l7.AuthError{Scheme: "Bearer", Realm: v.realm, Code: code, Reason: reason, Cause: cause}
}

var _ l7.Authenticator = (*Verifier)(nil)
