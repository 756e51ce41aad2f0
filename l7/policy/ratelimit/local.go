package ratelimit

import (
	"context"
	"time"
)

// DefaultMaxKeys is LocalStore's bound when LocalOptions.MaxKeys is 0.
const DefaultMaxKeys = 1 << 17

// LocalOptions configures a LocalStore.
type LocalOptions struct {
	// MaxKeys bounds the counters kept (about 100 bytes each plus the key).
	// The store has 64 shards of MaxKeys/64 (rounded up) each; a new key
	// arriving at a full shard evicts expired counters, or failing that the
	// one nearest to a full bucket (see shard eviction). 0 means
	// DefaultMaxKeys.
	MaxKeys int
}

// LocalStore keeps GCRA state in this process's memory: exact for one
// instance, shared by nothing else. A counter expires when its TAT is in
// the past (its bucket is full, so forgetting it changes no decision);
// expired counters are reused in place, dropped when a full shard needs
// room, and all dropped by Sweep. Memory is bounded by MaxKeys whether or
// not Sweep is called.
//
// Take for an existing key allocates nothing and holds one shard lock.
type LocalStore struct {
	t *table[int64]
}

// NewLocalStore makes an empty LocalStore.
func NewLocalStore(opts LocalOptions) *LocalStore {
	n := opts.MaxKeys
	if n <= 0 {
		n = DefaultMaxKeys
	}
	return &LocalStore{t: newTable[int64](n)}
}

// Take implements Store; it never fails. ctx is not used.
func (s *LocalStore) Take(_ context.Context, key string, l Limit, now time.Time) (Result, error) {
	k := tableKey{limit: l.Name, key: key}
	ns := now.UnixNano()
	sh := s.t.lock(k)
	defer sh.mu.Unlock()
	tat := ns
	if e, ok := sh.m[k]; ok {
		tat = e.val
	}
	granted, tat, r := gcra(tat, ns, l.interval(), l.burst(), 1)
	if granted > 0 {
		sh.put(k, entry[int64]{val: tat, expires: tat}, ns, s.t.perShard)
	}
	return r, nil
}

// Refund implements Refunder: it moves the key's TAT back by one cell.
// A counter that is gone (expired and dropped) is left alone.
func (s *LocalStore) Refund(_ context.Context, key string, l Limit, taken Result) error {
	if !taken.Allowed {
		return nil
	}
	k := tableKey{limit: l.Name, key: key}
	sh := s.t.lock(k)
	defer sh.mu.Unlock()
	if e, ok := sh.m[k]; ok {
		tat := refundTAT(e.val, l.interval(), 1)
		sh.m[k] = entry[int64]{val: tat, expires: tat}
	}
	return nil
}

// Sweep drops every counter expired at now and returns how many. Callers
// may run it periodically to return memory early; it is never required.
func (s *LocalStore) Sweep(now time.Time) int { return s.t.sweep(now.UnixNano()) }

// Len is the number of counters held, expired or not.
func (s *LocalStore) Len() int { return s.t.len() }

var (
	_ Store    = (*LocalStore)(nil)
	_ Refunder = (*LocalStore)(nil)
)
