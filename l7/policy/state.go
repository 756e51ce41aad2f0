package policy

import (
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bouncer-proxy/bouncer/configs"
	"github.com/bouncer-proxy/bouncer/l7/policy/cache"
	"github.com/bouncer-proxy/bouncer/l7/policy/jwtauth"
	"github.com/bouncer-proxy/bouncer/l7/policy/ratelimit"
)

// State is what policies keep across reloads, keyed by policy name and the
// settings that shape it: local rate-limit counters, memory cache entries,
// JWKS key sets, the Redis client. A reload that keeps a policy keeps its
// counters and entries; Retain drops every store the new generation no
// longer uses (a policy removed, resized or switched to Redis). Safe for
// concurrent use.
type State struct {
	log     *slog.Logger
	metrics *Metrics
	keys    *jwtauth.KeySets

	mu     sync.Mutex
	local  map[string]*ratelimit.LocalStore // by policy name and max_keys
	caches map[string]*cache.MemoryStore    // by policy name and max_bytes
	redis  *redisConn
}

type redisConn struct {
	cfg    configs.RedisServer
	client *redis.Client
}

// NewState makes the state of one process. metrics may be nil.
func NewState(log *slog.Logger, metrics *Metrics) *State {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &State{log: log, metrics: metrics, keys: jwtauth.NewKeySets(nil, log),
		local: map[string]*ratelimit.LocalStore{}, caches: map[string]*cache.MemoryStore{}}
}

// localStore returns the counters of rate-limit policy name sized
// maxKeys, and the key they are kept under (for Set.storeKeys).
func (st *State) localStore(name string, maxKeys int) (*ratelimit.LocalStore, string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	k := fmt.Sprintf("ratelimit/%s/%d", name, maxKeys)
	s := st.local[k]
	if s == nil {
		s = ratelimit.NewLocalStore(ratelimit.LocalOptions{MaxKeys: maxKeys})
		st.local[k] = s
	}
	return s, k
}

// memoryCache returns the entries of cache policy name bounded by
// maxBytes, and the key they are kept under (for Set.storeKeys).
func (st *State) memoryCache(name string, maxBytes int64) (*cache.MemoryStore, string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	k := fmt.Sprintf("cache/%s/%d", name, maxBytes)
	s := st.caches[k]
	if s == nil {
		s = cache.NewMemoryStore(maxBytes)
		st.caches[k] = s
	}
	return s, k
}

// redisClient returns the client of the config's redis server, made once
// and replaced when its settings change.
func (st *State) redisClient(c *configs.RedisServer) *redis.Client {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.redis != nil && st.redis.cfg == *c {
		return st.redis.client
	}
	old := st.redis
	cl := redis.NewClient(&redis.Options{
		Addr: c.Address, Username: c.Username, Password: c.Password, DB: c.DB,
		DialTimeout: time.Second, ReadTimeout: c.Timeout.D(), WriteTimeout: c.Timeout.D(),
		PoolSize: 64, MinIdleConns: 2, MaxRetries: -1, ContextTimeoutEnabled: true,
	})
	st.redis = &redisConn{cfg: *c, client: cl}
	if old != nil {
		// In-flight calls of the old generation finish first.
		time.AfterFunc(5*time.Second, func() { _ = old.client.Close() })
	}
	return cl
}

// Retain forgets every store that the serving generation s does not use:
// those of removed policies, and those a reload replaced by changing a
// policy's size (max_keys, max_bytes) or its store kind. Call it after s
// took over; nil s forgets them all.
func (st *State) Retain(s *Set) {
	var keep map[string]bool
	if s != nil {
		keep = s.stores
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	for k := range st.local {
		if !keep[k] {
			delete(st.local, k)
		}
	}
	for k := range st.caches {
		if !keep[k] {
			delete(st.caches, k)
		}
	}
}

// Close releases everything: the JWKS refreshers and the Redis client.
func (st *State) Close() {
	st.keys.Close()
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.redis != nil {
		_ = st.redis.client.Close()
		st.redis = nil
	}
}
