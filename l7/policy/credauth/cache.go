package credauth

import (
	"sync"
	"time"
)

// ttlCache is a bounded map from a SHA-256 key to a value that expires.
// Reads take a shared lock and never mutate; an expired entry is simply a
// miss until it is overwritten or evicted. When full, an insert first
// drops expired entries among a bounded sample, then, if none was
// expired, one sampled entry at random (Go map iteration order is
// random), so an insert costs O(sampleSize) at worst.
type ttlCache[V any] struct {
	mu      sync.RWMutex
	entries map[[32]byte]ttlEntry[V]
	max     int
}

type ttlEntry[V any] struct {
	v      V
	expiry time.Time
}

// evictSample bounds the work of one insert into a full cache.
const evictSample = 32

func newTTLCache[V any](max int) *ttlCache[V] {
	return &ttlCache[V]{entries: make(map[[32]byte]ttlEntry[V]), max: max}
}

// get returns the value stored under k if it has not expired at now.
func (c *ttlCache[V]) get(k [32]byte, now time.Time) (V, bool) {
	c.mu.RLock()
	e, ok := c.entries[k]
	c.mu.RUnlock()
	if !ok || !now.Before(e.expiry) {
		var zero V
		return zero, false
	}
	return e.v, true
}

// put stores v under k until expiry, evicting if the cache is full.
func (c *ttlCache[V]) put(k [32]byte, v V, expiry time.Time, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[k]; !ok && len(c.entries) >= c.max {
		c.evictLocked(now)
	}
	c.entries[k] = ttlEntry[V]{v: v, expiry: expiry}
}

// len is the number of stored entries, expired or not.
func (c *ttlCache[V]) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}

func (c *ttlCache[V]) evictLocked(now time.Time) {
	var victim [32]byte
	n, removed := 0, false
	for k, e := range c.entries {
		if !now.Before(e.expiry) {
			delete(c.entries, k)
			removed = true
		} else if n == 0 {
			victim = k
		}
		n++
		if n >= evictSample {
			break
		}
	}
	if !removed {
		delete(c.entries, victim)
	}
}
