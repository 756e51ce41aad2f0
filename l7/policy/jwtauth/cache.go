package jwtauth

import (
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/bouncer-proxy/bouncer/l7"
)

// tokenCache remembers the identities of verified tokens, so that a client
// sending the same token again costs a map lookup instead of a signature
// check. An entry lives until the token's exp, and at most ttl: a key
// removed from the key set stops verifying cached tokens within ttl.
// Bounded: when full, expired entries go first, then random ones (map
// order), an eighth of the cache at a time. Safe for concurrent use.
type tokenCache struct {
	size int
	ttl  time.Duration

	mu sync.RWMutex
	m  map[string]cached
}

type cached struct {
	id    *l7.Identity
	until time.Time
}

func newTokenCache(size int, ttl time.Duration) *tokenCache {
	if size <= 0 || ttl <= 0 {
		return nil
	}
	return &tokenCache{size: size, ttl: ttl, m: make(map[string]cached, min(size, 1024))}
}

func (c *tokenCache) get(raw string, now time.Time) (*l7.Identity, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.RLock()
	e, ok := c.m[raw]
	c.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		return nil, false
	}
	return e.id, true
}

// put remembers id for raw until the earlier of its exp and now+ttl;
// tokens without exp are remembered for ttl only when exp is not required.
func (c *tokenCache) put(raw string, claims jwt.MapClaims, id *l7.Identity, now time.Time) {
	if c == nil {
		return
	}
	until := now.Add(c.ttl)
	if exp, err := claims.GetExpirationTime(); err == nil && exp != nil && exp.Before(until) {
		until = exp.Time
	}
	if !now.Before(until) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.size {
		c.evict(now)
	}
	c.m[raw] = cached{id: id, until: until}
}

func (c *tokenCache) evict(now time.Time) {
	for k, e := range c.m {
		if !now.Before(e.until) {
			delete(c.m, k)
		}
	}
	drop := len(c.m) - c.size + max(c.size/8, 1)
	for k := range c.m {
		if drop <= 0 {
			break
		}
		delete(c.m, k)
		drop--
	}
}
