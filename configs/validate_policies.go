package configs

import (
	"encoding/hex"
	"fmt"
	"maps"
	"net/url"
	"reflect"
	"slices"
	"strings"
)

// AuthKinds are the policy kinds that authenticate; a route's are
// alternatives.
var AuthKinds = []string{"jwt", "api_key", "basic_auth", "mtls", "introspection", "ext_authz"}

// Kind returns the YAML name of the policy's one kind, or "" when none or
// several are set (Validate reports those).
func (p *Policy) Kind() string {
	kinds := p.kinds()
	if len(kinds) != 1 {
		return ""
	}
	return kinds[0]
}

func (p *Policy) kinds() []string {
	var out []string
	v := reflect.ValueOf(p).Elem()
	t := v.Type()
	for i := range t.NumField() {
		if !v.Field(i).IsNil() {
			out = append(out, strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0])
		}
	}
	return out
}

func (v *validator) policies() {
	for _, name := range slices.Sorted(maps.Keys(v.c.Policies)) {
		pol := v.c.Policies[name]
		p := "policies." + name
		switch kinds := pol.kinds(); len(kinds) {
		case 0:
			v.sink.addf(p, "sets no policy kind (one of jwt, api_key, basic_auth, mtls, introspection, ext_authz, anonymous, authorize, rate_limit, cache, compress, cors, ip_filter, body_limit, headers)")
			continue
		case 1:
		default:
			v.sink.addf(p, "sets %s: a policy has exactly one kind; declare one policy per kind", strings.Join(kinds, " and "))
			continue
		}
		v.policy(p, &pol)
	}
	for i, l := range v.c.Listeners {
		v.policyRefs(fmt.Sprintf("listeners[%d].policies", i), l.Policies)
	}
	for i, r := range v.c.Routes {
		p := fmt.Sprintf("routes[%d].policies", i)
		v.policyRefs(p, r.Policies)
		v.routeAuth(p, r.Policies)
	}
}

func (v *validator) policyRefs(p string, names []string) {
	seen := map[string]bool{}
	for j, n := range names {
		if _, ok := v.c.Policies[n]; !ok {
			v.sink.addf(fmt.Sprintf("%s[%d]", p, j), "no policy named %q", n)
		}
		if seen[n] {
			v.sink.addf(fmt.Sprintf("%s[%d]", p, j), "lists %q twice", n)
		}
		seen[n] = true
	}
}

// routeAuth checks what only makes sense per route: anonymous beside
// authentication, one of each single-instance kind.
func (v *validator) routeAuth(p string, names []string) {
	count := map[string]int{}
	for _, n := range names {
		if pol, ok := v.c.Policies[n]; ok {
			count[pol.Kind()]++
		}
	}
	auth := 0
	for _, k := range AuthKinds {
		auth += count[k]
	}
	if count["anonymous"] > 0 && auth == 0 {
		v.sink.addf(p, "lists an anonymous policy but no authentication policy: without one every request is anonymous anyway; remove it")
	}
	for _, k := range []string{"anonymous", "cache", "compress", "cors", "body_limit"} {
		if count[k] > 1 {
			v.sink.addf(p, "lists %d %s policies; a route takes one", count[k], k)
		}
	}
}

func (v *validator) policy(p string, pol *Policy) {
	switch {
	case pol.JWT != nil:
		v.jwt(p+".jwt", pol.JWT)
	case pol.APIKey != nil:
		v.apiKey(p+".api_key", pol.APIKey)
	case pol.BasicAuth != nil:
		v.basicAuth(p+".basic_auth", pol.BasicAuth)
	case pol.MTLS != nil:
		v.mtlsAuth(p+".mtls", pol.MTLS)
	case pol.Introspection != nil:
		v.httpURL(p+".introspection.url", pol.Introspection.URL)
		for i, s := range pol.Introspection.From {
			v.tokenSources(p+".introspection.from", []TokenSource{{Header: s.Header, Cookie: s.Cookie, Query: s.Query}}, i)
		}
	case pol.ExtAuthz != nil:
		v.httpURL(p+".ext_authz.url", pol.ExtAuthz.URL)
	case pol.Authorize != nil:
		a := pol.Authorize
		if len(a.Scopes)+len(a.Roles)+len(a.Claims)+len(a.Expressions) == 0 {
			v.sink.addf(p+".authorize", "sets no rule (scopes, roles, claims or expressions)")
		}
	case pol.RateLimit != nil:
		v.rateLimit(p+".rate_limit", pol.RateLimit)
	case pol.Cache != nil:
		v.cachePolicy(p+".cache", pol.Cache)
	case pol.CORS != nil:
		if pol.CORS.AllowCredentials && slices.Contains(pol.CORS.AllowOrigins, "*") {
			v.sink.addf(p+".cors.allow_credentials", "cannot be true with allow_origins *: browsers refuse credentials for any origin; list the origins")
		}
	case pol.IPFilter != nil:
		v.ipFilter(p+".ip_filter", pol.IPFilter)
	case pol.BodyLimit != nil:
		if pol.BodyLimit.MaxBytes <= 0 {
			v.sink.addf(p+".body_limit.max_bytes", "must be more than 0")
		}
	case pol.Headers != nil:
		if pol.Headers.Request == nil && pol.Headers.Response == nil {
			v.sink.addf(p+".headers", "sets neither request nor response")
		}
	}
}

func (v *validator) jwt(p string, j *JWTPolicy) {
	files := ""
	if len(j.KeyFiles) > 0 {
		files = "set"
	}
	n := nonEmpty(j.JWKSURL, files, j.Secret)
	switch {
	case n == 0:
		v.sink.addf(p, "needs jwks_url, key_files or secret")
	case j.Secret != "" && n > 1:
		v.sink.addf(p+".secret", "cannot be used with jwks_url or key_files (a public key must never verify an HMAC token)")
	}
	if j.JWKSURL != "" {
		v.httpURL(p+".jwks_url", j.JWKSURL)
	}
	for i, a := range j.Algorithms {
		if !slices.Contains(jwtAlgorithms, a) {
			v.sink.addf(fmt.Sprintf("%s.algorithms[%d]", p, i), "%q is not a supported algorithm (%s)", a, strings.Join(jwtAlgorithms, ", "))
		}
	}
	for i, s := range j.From {
		v.tokenSources(p+".from", []TokenSource{s}, i)
	}
	v.nonNegative(p+".cache_size", j.CacheSize)
	if j.JWKSURL != "" { // 0 would not mean "never": say what is meant
		for _, d := range []struct {
			key string
			d   Duration
		}{{"fetch_timeout", j.FetchTimeout}, {"refresh_interval", j.RefreshInterval}, {"min_refresh_interval", j.MinRefreshInterval}} {
			if d.d <= 0 {
				v.sink.addf(p+"."+d.key, "must be more than 0")
			}
		}
	}
}

var jwtAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "HS256", "HS384", "HS512"}

func (v *validator) tokenSources(p string, from []TokenSource, i int) {
	for _, s := range from {
		if nonEmpty(s.Header, s.Cookie, s.Query) != 1 {
			v.sink.addf(fmt.Sprintf("%s[%d]", p, i), "set exactly one of header, cookie and query")
		}
		if s.Prefix != "" && s.Header == "" {
			v.sink.addf(fmt.Sprintf("%s[%d].prefix", p, i), "only applies to a header")
		}
	}
}

func (v *validator) apiKey(p string, a *APIKeyPolicy) {
	seen := map[string]int{}
	for i, k := range a.Keys {
		kp := fmt.Sprintf("%s.keys[%d]", p, i)
		hexPart, ok := strings.CutPrefix(k.Hash, "sha256:")
		if b, err := hex.DecodeString(hexPart); !ok || err != nil || len(b) != 32 {
			v.sink.addf(kp+".hash", "must be sha256: and 64 hex digits (bouncer hash-key prints it)")
		}
		if j, dup := seen[strings.ToLower(k.Hash)]; dup {
			v.sink.addf(kp+".hash", "is the same key as keys[%d]", j)
		}
		seen[strings.ToLower(k.Hash)] = i
	}
}

func (v *validator) basicAuth(p string, b *BasicAuthPolicy) {
	seen := map[string]bool{}
	for i, u := range b.Users {
		up := fmt.Sprintf("%s.users[%d]", p, i)
		if seen[u.Name] {
			v.sink.addf(up+".name", "duplicate user %q", u.Name)
		}
		seen[u.Name] = true
		if !strings.HasPrefix(u.Hash, "$2a$") && !strings.HasPrefix(u.Hash, "$2b$") && !strings.HasPrefix(u.Hash, "$2y$") {
			v.sink.addf(up+".hash", "is not a bcrypt hash ($2a$, $2b$ or $2y$; bouncer hash-password prints one)")
		}
	}
}

func (v *validator) mtlsAuth(p string, m *MTLSAuthPolicy) {
	if len(m.Consumers) == 0 && !m.Unlisted {
		v.sink.addf(p, "lists no consumers and does not allow_unlisted: no certificate could pass")
	}
	for i, c := range m.Consumers {
		if nonEmpty(c.SPIFFEID, c.Subject, c.SHA256) != 1 {
			v.sink.addf(fmt.Sprintf("%s.consumers[%d]", p, i), "set exactly one of spiffe_id, subject and sha256")
		}
	}
}

func (v *validator) rateLimit(p string, r *RateLimitPolicy) {
	if !validRateKey(r.Key) {
		v.sink.addf(p+".key", "%q is not client_ip, route, consumer, header:NAME, claim:NAME or cel:EXPRESSION", r.Key)
	}
	for i, l := range r.Limits {
		lp := fmt.Sprintf("%s.limits[%d]", p, i)
		if l.Requests <= 0 {
			v.sink.addf(lp+".requests", "must be more than 0")
		}
		if l.Per <= 0 {
			v.sink.addf(lp+".per", "must be more than 0")
		}
		if l.Burst < 0 {
			v.sink.addf(lp+".burst", "must not be negative")
		}
		if strings.ContainsAny(l.Name, ":\" ") {
			v.sink.addf(lp+".name", "must not contain ':', '\"' or spaces")
		}
	}
	if r.Store == "redis" && v.c.Redis == nil {
		v.sink.addf(p+".store", "is redis, but the config has no top-level redis server")
	}
	v.nonNegative(p+".max_keys", r.MaxKeys)
	if r.Lease < 0 || r.Lease > 0 && r.Store != "redis" {
		v.sink.addf(p+".lease", "applies to store redis only, and must not be negative")
	}
}

func validRateKey(k string) bool {
	switch k {
	case "client_ip", "route", "consumer":
		return true
	}
	for _, pre := range []string{"header:", "claim:", "cel:"} {
		if rest, ok := strings.CutPrefix(k, pre); ok {
			return strings.TrimSpace(rest) != ""
		}
	}
	return false
}

func (v *validator) cachePolicy(p string, c *CachePolicy) {
	if c.Store == "redis" && v.c.Redis == nil {
		v.sink.addf(p+".store", "is redis, but the config has no top-level redis server")
	}
	if len(c.KeyQuery) > 0 && (len(c.KeyQueryExclude) > 0 || c.IgnoreQuery) || len(c.KeyQueryExclude) > 0 && c.IgnoreQuery {
		v.sink.addf(p, "set at most one of key_query, key_query_exclude and ignore_query")
	}
}

func (v *validator) ipFilter(p string, f *IPFilterPolicy) {
	if len(f.Allow)+len(f.Deny) == 0 {
		v.sink.addf(p, "sets neither allow nor deny")
	}
	for _, l := range []struct {
		name string
		list []string
	}{{"allow", f.Allow}, {"deny", f.Deny}} {
		name, list := l.name, l.list
		for i, s := range list {
			if _, err := ParsePrefix(s); err != nil {
				v.sink.addf(fmt.Sprintf("%s.%s[%d]", p, name, i), "%q is not an address or CIDR", s)
			}
		}
	}
}

func (v *validator) httpURL(p, s string) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.sink.addf(p, "%q is not an http or https URL", s)
	}
}

func (v *validator) redis() {
	if r := v.c.Redis; r != nil {
		v.hostPort("redis.address", r.Address)
		v.nonNegative("redis.db", r.DB)
		if r.Timeout <= 0 {
			v.sink.addf("redis.timeout", "must be more than 0")
		}
	}
}

// nonEmpty counts the values set, for "set exactly one of" rules.
func nonEmpty(values ...string) int {
	n := 0
	for _, v := range values {
		if v != "" {
			n++
		}
	}
	return n
}
