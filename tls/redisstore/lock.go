package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// lease is one acquisition of a lock by this Storage.
type lease struct {
	value string        // "<fence>:<token>", the lock key's value while we hold it
	fence uint64        // this acquisition's fencing number
	ttl   atomic.Int64  // lease length in ns used by renewals
	renew sync.Mutex    // serialises renewals so a stale TTL never lands last
	lost  chan struct{} // closed when the lease is found lost
	stop  chan struct{} // closed to end renewal
	done  chan struct{} // closed when renewal has ended

	lostOnce, stopOnce sync.Once
}

func (l *lease) isLost() bool {
	select {
	case <-l.lost:
		return true
	default:
		return false
	}
}

// halt ends renewal and waits for it; safe to call more than once.
func (l *lease) halt() {
	l.stopOnce.Do(func() { close(l.stop) })
	<-l.done
}

// Lock acquires the named lock, retrying every LockPoll while another
// holder has it, until it succeeds, ctx ends, or Redis fails (then it
// returns at once with the error). Once acquired, the lease is renewed in
// the background until Unlock or Close.
func (s *Storage) Lock(ctx context.Context, name string) error {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("redisstore: lock %q: %w", name, ctx.Err())
		case <-t.C:
		}
		ok, err := s.TryLock(ctx, name)
		if err != nil || ok {
			return err
		}
		t.Reset(s.opts.LockPoll)
	}
}

// TryLock makes one attempt at the named lock and reports whether it got
// it. If a lease of this Storage under that name was lost but not yet
// unlocked, the new lease replaces it.
func (s *Storage) TryLock(ctx context.Context, name string) (bool, error) {
	var tok [16]byte
	_, _ = rand.Read(tok[:]) // never fails, per crypto/rand
	token := hex.EncodeToString(tok[:])
	ttl := s.opts.LockTTL
	sent := time.Now() // the lease runs from no earlier than this
	fence, err := acquireScript.Run(ctx, s.rdb, []string{s.lockKey(name), s.fenceKey()}, token, ms(ttl)).Uint64()
	if err != nil {
		return false, fmt.Errorf("redisstore: lock %q: %w", name, err)
	}
	if fence == 0 {
		return false, nil
	}
	l := &lease{
		value: fmt.Sprintf("%d:%s", fence, token), fence: fence,
		lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{}),
	}
	l.ttl.Store(int64(ttl))
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		close(l.done)
		s.release(name, l)
		return false, fmt.Errorf("redisstore: lock %q: storage closed", name)
	}
	old := s.leases[name]
	s.leases[name] = l
	s.wg.Add(1)
	s.mu.Unlock()
	if old != nil {
		old.halt()
	}
	go s.renew(name, l, sent)
	return true, nil
}

// Unlock releases the named lock. It fails with ErrNotHeld if this Storage
// does not hold it, and with ErrLockLost if the lease had expired (the lock
// is then left to whoever holds it now). Locks are per Storage and name, as
// certmagic's Locker is: if a lost lease was replaced by a new acquisition
// through the same Storage, Unlock releases the new one.
func (s *Storage) Unlock(ctx context.Context, name string) error {
	s.mu.Lock()
	l := s.leases[name]
	delete(s.leases, name)
	s.mu.Unlock()
	if l == nil {
		return fmt.Errorf("redisstore: unlock %q: %w", name, ErrNotHeld)
	}
	l.halt()
	n, err := releaseScript.Run(ctx, s.rdb, []string{s.lockKey(name)}, l.value).Int()
	if err != nil {
		return fmt.Errorf("redisstore: unlock %q: %w", name, err)
	}
	if n == 0 {
		return fmt.Errorf("redisstore: unlock %q: %w", name, ErrLockLost)
	}
	return nil
}

// RenewLockLease (certmagic.LockLeaseRenewer) sets the held lock's lease to
// leaseDuration (at least LockTTL) now and for later renewals. It fails
// with ErrNotHeld or ErrLockLost if the lock is not held.
func (s *Storage) RenewLockLease(ctx context.Context, name string, leaseDuration time.Duration) error {
	l := s.held(name)
	if l == nil {
		return fmt.Errorf("redisstore: renew %q: %w", name, ErrNotHeld)
	}
	d := max(leaseDuration, s.opts.LockTTL)
	l.renew.Lock()
	defer l.renew.Unlock()
	n, err := renewScript.Run(ctx, s.rdb, []string{s.lockKey(name)}, l.value, ms(d)).Int()
	if err != nil {
		return fmt.Errorf("redisstore: renew %q: %w", name, err)
	}
	if n == 0 {
		s.markLost(name, l, "lock held by another holder at renewal")
		return fmt.Errorf("redisstore: renew %q: %w", name, ErrLockLost)
	}
	l.ttl.Store(int64(d))
	return nil
}

// Fence returns the fencing number of the named lock's current lease and
// true, or false if this Storage does not hold it or its lease was lost.
// Fencing numbers increase with every acquisition of any lock in the store.
func (s *Storage) Fence(name string) (uint64, bool) {
	l := s.held(name)
	if l == nil || l.isLost() {
		return 0, false
	}
	return l.fence, true
}

// Lost returns a channel closed when the named lock's lease is found lost,
// for a critical section to give up early. It returns nil (a channel that
// never fires) if this Storage does not hold the lock.
func (s *Storage) Lost(name string) <-chan struct{} {
	if l := s.held(name); l != nil {
		return l.lost
	}
	return nil
}

// LeasesLost counts leases this Storage has lost since New.
func (s *Storage) LeasesLost() uint64 { return s.lost.Load() }

type lockCtxKey struct{}

// WithLock returns a context under which Store writes only while this
// Storage still holds the named lock, checked atomically with the write.
func WithLock(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, lockCtxKey{}, name)
}

func (s *Storage) held(name string) *lease {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.leases[name]
}

// renew extends the lease every LockTTL/3 until halted. It declares the
// lease lost when the lock holds another value, or when no renewal has
// succeeded for a whole lease (Redis unreachable: the key has expired);
// renewed is when the last successful extension was sent.
func (s *Storage) renew(name string, l *lease, renewed time.Time) {
	defer s.wg.Done()
	defer close(l.done)
	every := s.opts.LockTTL / 3
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		sent := time.Now()
		ttl, n, err := s.renewOnce(name, l, every)
		switch {
		case err == nil && n == 1:
			renewed = sent
		case err == nil:
			s.markLost(name, l, "lock held by another holder at renewal")
			return
		case time.Since(renewed) >= ttl:
			s.markLost(name, l, fmt.Sprintf("no renewal for %v: %v", ttl, err))
			return
		default:
			s.log.Warn("lock lease renewal failed; will retry", "lock", name, "error", err)
		}
	}
}

// renewOnce extends the lease once by its current TTL, which it returns.
func (s *Storage) renewOnce(name string, l *lease, timeout time.Duration) (time.Duration, int, error) {
	l.renew.Lock()
	defer l.renew.Unlock()
	ttl := time.Duration(l.ttl.Load())
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	n, err := renewScript.Run(ctx, s.rdb, []string{s.lockKey(name)}, l.value, ms(ttl)).Int()
	return ttl, n, err
}

func (s *Storage) markLost(name string, l *lease, why string) {
	l.lostOnce.Do(func() {
		s.lost.Add(1) // before close, so a woken waiter sees the count
		close(l.lost)
		s.log.Error("lock lease lost", "lock", name, "fence", l.fence, "reason", why)
	})
}

// release deletes the lock if it still holds l's value, ignoring failure;
// used when a lease cannot be kept.
func (s *Storage) release(name string, l *lease) {
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	if err := releaseScript.Run(ctx, s.rdb, []string{s.lockKey(name)}, l.value).Err(); err != nil {
		s.log.Warn("releasing lock", "lock", name, "error", err)
	}
}
