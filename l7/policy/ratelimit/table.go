package ratelimit

import (
	"hash/maphash"
	"sync"
)

const (
	shardCount = 64
	// evictSample is how many entries a full shard looks at to make room.
	evictSample = 32
)

// tableKey names one counter: the limit's name and the request's key,
// kept apart rather than concatenated so that a lookup allocates nothing.
type tableKey struct {
	limit string
	key   string
}

// entry is a value with the time (Unix nanoseconds) after which it is
// worthless and may be dropped.
type entry[V any] struct {
	val     V
	expires int64
}

// table is a map split into shards by a hash of the key, one mutex each,
// holding at most perShard entries per shard.
type table[V any] struct {
	seed     maphash.Seed
	perShard int
	shards   [shardCount]shard[V]
}

type shard[V any] struct {
	mu sync.Mutex
	m  map[tableKey]entry[V]
}

// newTable makes a table for about maxKeys entries (at least one a shard).
func newTable[V any](maxKeys int) *table[V] {
	t := &table[V]{seed: maphash.MakeSeed(), perShard: max(1, (maxKeys+shardCount-1)/shardCount)}
	for i := range t.shards {
		t.shards[i].m = make(map[tableKey]entry[V])
	}
	return t
}

// lock returns the shard holding k, locked; the caller unlocks it.
func (t *table[V]) lock(k tableKey) *shard[V] {
	s := &t.shards[maphash.String(t.seed, k.key)%shardCount]
	s.mu.Lock()
	return s
}

// put stores e under k in s (locked). When k is new and s is full, it
// first makes room: among up to evictSample entries (Go's map iteration
// starts at a random place, so this is a sample) it deletes every one
// expired by now, and when none is, the one that expires first. Evicting
// a live counter forgets its debt: that key starts again with a full
// bucket, which is why the earliest-expiring (nearest to full) is chosen.
func (s *shard[V]) put(k tableKey, e entry[V], now int64, perShard int) {
	if _, ok := s.m[k]; !ok && len(s.m) >= perShard {
		s.evict(now)
	}
	s.m[k] = e
}

func (s *shard[V]) evict(now int64) {
	var (
		oldest    tableKey
		oldestExp int64
		seen      int
		freed     bool
	)
	for k, e := range s.m {
		if e.expires <= now {
			delete(s.m, k)
			freed = true
		} else if seen == 0 || e.expires < oldestExp {
			oldest, oldestExp = k, e.expires
		}
		seen++
		if seen >= evictSample {
			break
		}
	}
	if !freed && seen > 0 {
		delete(s.m, oldest)
	}
}

// sweep deletes every entry expired by now and returns how many it did.
func (t *table[V]) sweep(now int64) int {
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		for k, e := range s.m {
			if e.expires <= now {
				delete(s.m, k)
				n++
			}
		}
		s.mu.Unlock()
	}
	return n
}

// len counts the entries, expired or not.
func (t *table[V]) len() int {
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}
