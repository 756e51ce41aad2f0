package policy

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"

	"github.com/bouncer-proxy/bouncer/configs"
	"github.com/bouncer-proxy/bouncer/l7"
	"github.com/bouncer-proxy/bouncer/l7/policy/authz"
	"github.com/bouncer-proxy/bouncer/l7/policy/cache"
	"github.com/bouncer-proxy/bouncer/l7/policy/ratelimit"
)

func buildRateLimit(cfg *configs.Config, st *State, name string, c *configs.RateLimitPolicy) (*built, error) {
	key, identity, err := rateKey(c.Key)
	if err != nil {
		return nil, err
	}
	limits := make([]ratelimit.Limit, len(c.Limits))
	for i, l := range c.Limits {
		n := l.Name
		if n == "" {
			n = fmt.Sprintf("limit-%d", i)
		}
		limits[i] = ratelimit.Limit{Name: name + "." + n, Requests: l.Requests, Period: l.Per.D(), Burst: l.Burst}
	}
	var store ratelimit.Store
	storeKey := ""
	if c.Store == "redis" {
		rs, err := ratelimit.NewRedisStore(ratelimit.RedisOptions{
			Client: st.redisClient(cfg.Redis), Prefix: cfg.Redis.Prefix + "rl:", Timeout: cfg.Redis.Timeout.D(),
			FailOpen: c.FailOpen, LeaseSize: int64(c.Lease), OnFailure: st.metrics.storeError(name), Logger: st.log,
		})
		if err != nil {
			return nil, err
		}
		store = rs
	} else {
		store, storeKey = st.localStore(name, c.MaxKeys)
	}
	lm, err := ratelimit.New(limits, store, key, ratelimit.Options{})
	if err != nil {
		return nil, err
	}
	phase := PhaseRateLimit
	if identity {
		phase = PhaseRateLimitIdentity
	}
	counter := st.metrics.limited(name)
	return &built{phase: phase, store: storeKey, wrap: func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !lm.Check(w, r) {
				if counter != nil {
					counter.Inc()
				}
				return
			}
			next.ServeHTTP(w, r)
		})
	}}, nil
}

// rateKey compiles a rate_limit key; identity reports a key that needs
// authentication to have run (the policy then runs after it).
func rateKey(spec string) (ratelimit.KeyFunc, bool, error) {
	switch spec {
	case "client_ip":
		return func(r *http.Request) (string, bool) {
			info := l7.InfoFrom(r.Context())
			if info == nil || !info.Client.IsValid() {
				return "", false
			}
			return clientKey(info.Client), true
		}, false, nil
	case "route":
		return func(r *http.Request) (string, bool) {
			info := l7.InfoFrom(r.Context())
			if info == nil || info.Route == "" {
				return "", false
			}
			return info.Route, true // one bucket per route listing the policy
		}, false, nil
	case "consumer":
		return func(r *http.Request) (string, bool) {
			if id := identityOf(r); id != nil && id.Consumer != "" {
				return id.Consumer, true
			}
			return "", false
		}, true, nil
	}
	if h, ok := strings.CutPrefix(spec, "header:"); ok {
		h = http.CanonicalHeaderKey(strings.TrimSpace(h))
		return func(r *http.Request) (string, bool) {
			v := r.Header.Get(h)
			return v, v != ""
		}, false, nil
	}
	if c, ok := strings.CutPrefix(spec, "claim:"); ok {
		c = strings.TrimSpace(c)
		return func(r *http.Request) (string, bool) {
			id := identityOf(r)
			if id == nil {
				return "", false
			}
			v, ok := id.Claims[c]
			if !ok || v == nil {
				return "", false
			}
			s := fmt.Sprint(v)
			return s, s != ""
		}, true, nil
	}
	if e, ok := strings.CutPrefix(spec, "cel:"); ok {
		k, err := authz.NewKeyExpr(strings.TrimSpace(e))
		if err != nil {
			return nil, false, err
		}
		return k.Eval, strings.Contains(e, "identity"), nil
	}
	return nil, false, fmt.Errorf("unknown key %q", spec)
}

// clientKey is the rate-limit key of a client address: an IPv4 address
// itself, an IPv6 address its /64. One IPv6 subscriber usually holds a
// whole /64 (RFC 6177) and can pick a fresh address per request in it, so
// counting per /128 would not limit it at all.
func clientKey(a netip.Addr) string {
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	p, _ := a.WithZone("").Prefix(64)
	return p.String()
}

func identityOf(r *http.Request) *l7.Identity {
	if info := l7.InfoFrom(r.Context()); info != nil {
		return info.Identity
	}
	return nil
}

func buildCache(cfg *configs.Config, st *State, name string, c *configs.CachePolicy) (*built, error) {
	var store cache.Store
	var redisStore *cache.RedisStore
	storeKey := ""
	if c.Store == "redis" {
		rc := cfg.Redis
		rs, err := cache.NewRedisStore(cache.RedisOptions{Addr: rc.Address, Username: rc.Username, Password: rc.Password,
			DB: rc.DB, Prefix: rc.Prefix + "cache:" + name + ":", Timeout: rc.Timeout.D()})
		if err != nil {
			return nil, err
		}
		store, redisStore = rs, rs
	} else {
		store, storeKey = st.memoryCache(name, int64(c.MaxBytes))
	}
	o := cache.Options{
		MaxObjectBytes: int64(c.MaxObjectBytes), KeyHeaders: c.KeyHeaders, KeyQuery: nilIfEmpty(c.KeyQuery), KeyQueryExclude: nilIfEmpty(c.KeyQueryExclude),
		IgnoreQuery: c.IgnoreQuery, CacheAuthenticated: c.CacheAuthenticated, MaxHeuristic: c.MaxHeuristic.D(), Logger: st.log,
	}
	if ev := st.metrics.cacheEvent(name); ev != nil {
		o.OnEvent = func(e cache.Event) { ev(string(e)) }
	}
	ch, err := cache.New(o, store)
	if err != nil {
		if redisStore != nil {
			_ = redisStore.Close()
		}
		return nil, err
	}
	closeAll := func() {
		ch.Close()
		if redisStore != nil {
			_ = redisStore.Close()
		}
	}
	return &built{phase: PhaseCache, wrap: ch.Wrap, close: closeAll, cache: ch, store: storeKey}, nil
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}
