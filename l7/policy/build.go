package policy

import (
	"maps"
	"net/http"
	"slices"

	"github.com/bouncer-proxy/bouncer/configs"
	"github.com/bouncer-proxy/bouncer/l7"
	"github.com/bouncer-proxy/bouncer/l7/policy/authz"
	"github.com/bouncer-proxy/bouncer/l7/policy/compress"
	"github.com/bouncer-proxy/bouncer/l7/policy/cors"
	"github.com/bouncer-proxy/bouncer/l7/policy/ipfilter"
)

// Set is the compiled policies of one config generation, by name.
type Set struct {
	byName  map[string]*built
	stores  map[string]bool // the State keys of the kept stores it uses, for Retain
	metrics *Metrics
}

// Build compiles every named policy of cfg. Errors name the policy's key
// in the config file; everything built is released on failure.
func Build(cfg *configs.Config, st *State) (*Set, configs.Errors) {
	s := &Set{byName: map[string]*built{}, stores: map[string]bool{}, metrics: st.metrics}
	var errs configs.Errors
	for _, name := range slices.Sorted(maps.Keys(cfg.Policies)) {
		pc := cfg.Policies[name]
		kind := pc.Kind()
		path := "policies." + name + "." + kind
		b, err := buildOne(cfg, st, name, &pc)
		if err != nil {
			errs = append(errs, cfg.Errorf(path, "%v", err))
			continue
		}
		b.name, b.kind = name, kind
		s.byName[name] = b
		if b.store != "" {
			s.stores[b.store] = true
		}
	}
	if len(errs) > 0 {
		s.Close()
		return nil, errs
	}
	return s, nil
}

// Close releases what the set's policies hold (a JWT policy's share of its
// key set, a cache's background refreshes). Call it once the generation no
// longer serves.
func (s *Set) Close() {
	if s == nil {
		return
	}
	for _, b := range s.byName {
		if b.close != nil {
			b.close()
		}
	}
}

func buildOne(cfg *configs.Config, st *State, name string, p *configs.Policy) (*built, error) {
	switch {
	case p.JWT != nil:
		return buildJWT(p.JWT, st)
	case p.APIKey != nil:
		return buildAPIKey(p.APIKey)
	case p.BasicAuth != nil:
		return buildBasic(p.BasicAuth)
	case p.MTLS != nil:
		return buildMTLS(p.MTLS), nil
	case p.Introspection != nil:
		return buildIntrospection(p.Introspection)
	case p.ExtAuthz != nil:
		return buildExtAuthz(p.ExtAuthz, name, st.metrics)
	case p.Anonymous != nil:
		return &built{phase: PhaseAuthn, anon: p.Anonymous.Consumer}, nil
	case p.Authorize != nil:
		return buildAuthorize(p.Authorize)
	case p.RateLimit != nil:
		return buildRateLimit(cfg, st, name, p.RateLimit)
	case p.Cache != nil:
		return buildCache(cfg, st, name, p.Cache)
	case p.Compress != nil:
		return buildCompress(p.Compress)
	case p.CORS != nil:
		c := p.CORS
		cs, err := cors.New(cors.Options{AllowOrigins: c.AllowOrigins, AllowMethods: c.AllowMethods, AllowHeaders: c.AllowHeaders,
			ExposeHeaders: c.ExposeHeaders, AllowCredentials: c.AllowCredentials, MaxAge: c.MaxAge.D(), AllowPrivateNetwork: c.AllowPrivateNetwork})
		if err != nil {
			return nil, err
		}
		return &built{phase: PhaseCORS, wrap: cs.Wrap}, nil
	case p.IPFilter != nil:
		f, err := ipfilter.New(ipfilter.Options{Allow: p.IPFilter.Allow, Deny: p.IPFilter.Deny})
		if err != nil {
			return nil, err
		}
		return &built{phase: PhaseIPFilter, wrap: f.Wrap}, nil
	case p.BodyLimit != nil:
		return &built{phase: PhaseBodyLimit, wrap: bodyLimit(int64(p.BodyLimit.MaxBytes))}, nil
	case p.Headers != nil:
		return &built{phase: PhaseHeaders, wrap: headers(p.Headers)}, nil
	}
	return nil, errNoKind
}

func buildAuthorize(a *configs.AuthorizePolicy) (*built, error) {
	az, err := authz.New(authz.Options{RequireScopes: a.Scopes, RequireRoles: a.Roles, RolesClaim: a.RolesClaim,
		RequireClaims: a.Claims, Expressions: a.Expressions})
	if err != nil {
		return nil, err
	}
	return &built{phase: PhaseAuthz, wrap: az.Wrap}, nil
}

func buildCompress(c *configs.CompressPolicy) (*built, error) {
	o := compress.Options{Encodings: c.Encodings, MinBytes: int(c.MinBytes), ContentTypes: c.ContentTypes}
	if c.Level != 0 {
		o.Levels = map[string]int{}
		for _, e := range c.Encodings {
			o.Levels[e] = c.Level
		}
	}
	cp, err := compress.New(o)
	if err != nil {
		return nil, err
	}
	return &built{phase: PhaseCompress, wrap: cp.Wrap}, nil
}

// bodyLimit refuses bodies over max: by Content-Length before anything is
// read, else when the streamed body passes it (the proxy then answers 413).
func bodyLimit(max int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > max {
				l7.WriteError(w, r, l7.Errorf(http.StatusRequestEntityTooLarge, l7.CodeTooLarge, "request body is larger than %d bytes", max))
				return
			}
			if r.Body != nil && r.Body != http.NoBody {
				r.Body = http.MaxBytesReader(w, r.Body, max)
			}
			next.ServeHTTP(w, r)
		})
	}
}
