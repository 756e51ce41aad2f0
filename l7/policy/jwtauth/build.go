package jwtauth

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// New checks opts, reads the key files, and builds a Verifier. Every
// problem is reported at once, each naming its option. keys must be non-nil
// when opts.JWKSURL is set; New takes a reference on the URL's key set
// (starting its first fetch in the background, so a down key server never
// fails a config load) and the Verifier's Close gives it back. New does not
// wait for the first fetch: requests wait for it, up to FetchTimeout.
func New(opts Options, keys *KeySets) (*Verifier, error) {
	o := opts.withDefaults()
	static, errs := checkKeySources(o, keys)
	algs, err := allowedAlgs(o, static)
	if err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, checkClaimsAndTimes(o)...)
	sources, err := compileSources(o.Sources)
	if err != nil {
		errs = append(errs, err)
	}
	forward, err := compileForward(o.ClaimsToHeaders)
	if err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("jwtauth: %w", err)
	}
	v := &Verifier{
		parser:     jwt.NewParser(parserOptions(o, algs)...),
		algs:       algs,
		static:     static,
		issuers:    slices.Clone(o.Issuers),
		requireExp: o.requireExp(),
		sources:    sources,
		forward:    forward,
		realm:      o.Realm,
	}
	if o.Secret != nil {
		v.secret = slices.Clone(o.Secret)
	}
	v.firstKey = func(t *jwt.Token) (any, error) { return v.keyFor(t, false) }
	v.finalKey = func(t *jwt.Token) (any, error) { return v.keyFor(t, true) }
	if o.JWKSURL != "" {
		t := timings{fetchTimeout: o.FetchTimeout, refresh: o.RefreshInterval, minRefresh: o.MinRefreshInterval}
		rs, err := keys.acquire(o.JWKSURL, t)
		if err != nil {
			return nil, fmt.Errorf("jwtauth: jwks_url: %w", err)
		}
		v.remote, v.keySets = rs, keys
	}
	v.cache = newTokenCache(o.CacheSize, o.CacheTTL)
	return v, nil
}

// parserOptions are the jwt parser settings: only the allowed algorithms
// (so "none" and an HMAC signature over a public key are refused before any
// key is looked up), exp/nbf/iat with the skew, and the audiences.
func parserOptions(o Options, algs []string) []jwt.ParserOption {
	popts := []jwt.ParserOption{
		jwt.WithValidMethods(algs),
		jwt.WithLeeway(o.ClockSkew),
		jwt.WithIssuedAt(),
	}
	if o.requireExp() {
		popts = append(popts, jwt.WithExpirationRequired())
	}
	if len(o.Audiences) > 0 {
		popts = append(popts, jwt.WithAudience(o.Audiences...))
	}
	return popts
}

// checkKeySources checks JWKSURL, KeyFiles and Secret and reads the files.
func checkKeySources(o Options, keys *KeySets) (*keyIndex, []error) {
	var errs []error
	if o.JWKSURL == "" && len(o.KeyFiles) == 0 && o.Secret == nil {
		errs = append(errs, errors.New("no keys: set jwks_url, key_files or secret"))
	}
	if o.Secret != nil && (o.JWKSURL != "" || len(o.KeyFiles) > 0) {
		errs = append(errs, errors.New("secret cannot be combined with jwks_url or key_files"))
	}
	if o.Secret != nil && len(o.Secret) < hmacMinLen["HS256"] {
		errs = append(errs, fmt.Errorf("secret: %d bytes, need at least %d", len(o.Secret), hmacMinLen["HS256"]))
	}
	if o.JWKSURL != "" {
		if err := checkURL(o.JWKSURL); err != nil {
			errs = append(errs, err)
		}
		if keys == nil {
			errs = append(errs, errors.New("jwks_url: no key set registry given"))
		}
	}
	if len(o.KeyFiles) == 0 {
		return nil, errs
	}
	pks, err := readKeyFiles(o.KeyFiles)
	if err != nil {
		return nil, append(errs, err)
	}
	return newKeyIndex(pks), errs
}

// checkURL accepts an absolute http or https URL with a host.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("jwks_url: %w", err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("jwks_url %q: want an http or https URL with a host", raw)
	}
	return nil
}

// allowedAlgs returns the accepted algorithms: Options.Algorithms checked
// against the configured keys, or the default the Options doc describes.
func allowedAlgs(o Options, static *keyIndex) ([]string, error) {
	if len(o.Algorithms) == 0 {
		return defaultAlgs(o, static), nil
	}
	var errs []error
	for _, a := range o.Algorithms {
		fam, ok := algFamily[a]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("algorithms: unknown or refused algorithm %q", a))
		case fam == famHMAC && o.Secret == nil:
			errs = append(errs, fmt.Errorf("algorithms: %s needs a secret", a))
		case fam == famHMAC && len(o.Secret) < hmacMinLen[a]:
			errs = append(errs, fmt.Errorf("algorithms: %s needs a secret of at least %d bytes", a, hmacMinLen[a]))
		case fam != famHMAC && o.Secret != nil:
			errs = append(errs, fmt.Errorf("algorithms: %s needs public keys, not a secret", a))
		case fam != famHMAC && o.JWKSURL == "" && static != nil && !static.verifies(a):
			errs = append(errs, fmt.Errorf("algorithms: no key in key_files verifies %s", a))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return slices.Clone(o.Algorithms), nil
}

// defaultAlgs: the HS algorithms the secret is long enough for; every
// asymmetric one with a JWKS URL (its keys are not known yet); else those
// the key files' keys verify.
func defaultAlgs(o Options, static *keyIndex) []string {
	var algs []string
	switch {
	case o.Secret != nil:
		for _, a := range []string{"HS256", "HS384", "HS512"} {
			if len(o.Secret) >= hmacMinLen[a] {
				algs = append(algs, a)
			}
		}
	case o.JWKSURL != "":
		algs = slices.Clone(asymmetricAlgs)
	default:
		for _, a := range asymmetricAlgs {
			if static.verifies(a) {
				algs = append(algs, a)
			}
		}
	}
	return algs
}

// verifies says whether some key of x verifies alg.
func (x *keyIndex) verifies(alg string) bool {
	if x == nil {
		return false
	}
	_, ok := x.algs[alg]
	return ok
}

// checkClaimsAndTimes checks issuers, audiences and durations.
func checkClaimsAndTimes(o Options) []error {
	var errs []error
	if slices.Contains(o.Issuers, "") {
		errs = append(errs, errors.New("issuers: empty issuer"))
	}
	if slices.Contains(o.Audiences, "") {
		errs = append(errs, errors.New("audiences: empty audience"))
	}
	durations := []struct {
		name string
		d    time.Duration
	}{
		{"clock_skew", o.ClockSkew},
		{"fetch_timeout", o.FetchTimeout},
		{"refresh_interval", o.RefreshInterval},
		{"min_refresh_interval", o.MinRefreshInterval},
	}
	for _, d := range durations {
		if d.d < 0 {
			errs = append(errs, fmt.Errorf("%s: negative duration", d.name))
		}
	}
	return errs
}
