package ratelimit

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// lease is one instance's share of a key's cells, fetched from Redis.
type lease struct {
	mu          sync.Mutex
	id          uint64
	left        int64     // cells not yet spent
	expires     time.Time // start of the fetch + n*T
	remaining   int64     // Redis's Remaining after the fetch
	resetAt     time.Time
	deniedUntil time.Time // cached denial: Redis said no until then
	fetching    *fetch    // non-nil while a fetch is under way
}

// fetch is one call to Redis that other requests for the key wait on.
type fetch struct {
	done chan struct{}
	err  error
}

// takeLeased spends a cell of the key's lease, or waits for the fetch under
// way, or fetches the next lease itself.
func (s *RedisStore) takeLeased(ctx context.Context, key string, l Limit, now time.Time) (Result, error) {
	ls := s.leaseFor(key, l, now)
	for {
		ls.mu.Lock()
		if r, ok := ls.spend(now); ok {
			ls.mu.Unlock()
			return r, nil
		}
		if f := ls.fetching; f != nil {
			ls.mu.Unlock()
			select {
			case <-f.done:
				if f.err != nil {
					// The fetcher has reported this failure.
					return s.outcome(ctx, f.err)
				}
				continue
			case <-ctx.Done():
				return Result{}, fmt.Errorf("ratelimit: %w", ctx.Err())
			}
		}
		f := &fetch{done: make(chan struct{})}
		ls.fetching = f
		ls.mu.Unlock()
		return s.refill(ctx, key, l, now, ls, f)
	}
}

// leaseFor returns the key's lease record, making an empty one if needed.
func (s *RedisStore) leaseFor(key string, l Limit, now time.Time) *lease {
	k := tableKey{limit: l.Name, key: key}
	sh := s.leases.lock(k)
	defer sh.mu.Unlock()
	if e, ok := sh.m[k]; ok {
		return e.val
	}
	ls := &lease{}
	sh.put(k, entry[*lease]{val: ls, expires: now.Add(s.leaseTTL(l)).UnixNano()}, now.UnixNano(), s.leases.perShard)
	return ls
}

// spend answers from the lease alone when it can: a cached denial, or an
// unspent, unexpired cell. ls.mu is held.
func (ls *lease) spend(now time.Time) (Result, bool) {
	if now.Before(ls.deniedUntil) {
		return Result{RetryAfter: ls.deniedUntil.Sub(now), ResetAfter: max(0, ls.resetAt.Sub(now))}, true
	}
	if ls.left > 0 && now.Before(ls.expires) {
		ls.left--
		return Result{
			Allowed:    true,
			Remaining:  ls.left + ls.remaining,
			ResetAfter: max(0, ls.resetAt.Sub(now)),
			lease:      ls.id,
		}, true
	}
	return Result{}, false
}

// refill fetches up to LeaseSize cells, installs them as the key's lease
// (one goes to this request) and wakes the requests waiting on f.
func (s *RedisStore) refill(ctx context.Context, key string, l Limit, now time.Time, ls *lease, f *fetch) (Result, error) {
	rep, err := s.call(ctx, key, l, s.opts.LeaseSize)
	ls.mu.Lock()
	ls.fetching = nil
	f.err = err
	var r Result
	if err == nil {
		r = ls.install(rep, now, s.leaseTTL(l), s.leaseSeq.Add(1))
	}
	expires := ls.expires
	if ls.deniedUntil.After(expires) {
		expires = ls.deniedUntil
	}
	ls.mu.Unlock()
	close(f.done)
	if err != nil {
		return s.failed(ctx, err)
	}
	s.touchLease(key, l, ls, expires, now)
	return r, nil
}

// install records a fetch's reply, begun at now, as lease id and returns
// this request's result. ls.mu is held.
func (ls *lease) install(rep scriptReply, now time.Time, ttl time.Duration, id uint64) Result {
	ls.resetAt = now.Add(rep.reset)
	if rep.granted == 0 {
		ls.left = 0
		ls.deniedUntil = now.Add(rep.retry)
		return rep.result(0)
	}
	ls.id = id
	ls.left = rep.granted - 1
	ls.remaining = rep.remaining
	ls.expires = now.Add(ttl)
	return Result{Allowed: true, Remaining: ls.left + ls.remaining, ResetAfter: rep.reset, lease: ls.id}
}

// touchLease moves the table entry's expiry to the lease's, if the entry
// still holds this lease.
func (s *RedisStore) touchLease(key string, l Limit, ls *lease, expires, now time.Time) {
	k := tableKey{limit: l.Name, key: key}
	sh := s.leases.lock(k)
	defer sh.mu.Unlock()
	if e, ok := sh.m[k]; ok && e.val == ls {
		if expires.Before(now) {
			expires = now
		}
		sh.m[k] = entry[*lease]{val: ls, expires: expires.UnixNano()}
	}
}

// refundLease gives a cell back to lease id if it is still the key's
// current lease; otherwise the cell is dropped (its lease is gone).
func (s *RedisStore) refundLease(key string, l Limit, id uint64) {
	k := tableKey{limit: l.Name, key: key}
	sh := s.leases.lock(k)
	e, ok := sh.m[k]
	sh.mu.Unlock()
	if !ok {
		return
	}
	ls := e.val
	ls.mu.Lock()
	if ls.id == id {
		ls.left++
	}
	ls.mu.Unlock()
}

// leaseTTL is n*T: how long a lease's cells may be spent.
func (s *RedisStore) leaseTTL(l Limit) time.Duration {
	return time.Duration(s.opts.LeaseSize) * time.Duration(l.interval())
}
