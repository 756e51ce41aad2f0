package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bouncer-proxy/bouncer/internal/testsvc"
)

// pair is two Storages with their own clients on one Redis, as two Bouncer
// processes would have.
func pair(t *testing.T, o Options) (a, b *Storage) {
	t.Helper()
	r := testsvc.StartRedis(t)
	return newStore(t, r.Addr, o), newStore(t, r.Addr, o)
}

// within fails the test unless ch yields before d.
func within[T any](t *testing.T, ch <-chan T, d time.Duration, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		t.Fatalf("%s: not within %v", what, d)
		panic("unreachable")
	}
}

func TestLockContention(t *testing.T) {
	a, b := pair(t, Options{LockTTL: 2 * time.Second, LockPoll: time.Millisecond})
	const workers, rounds = 4, 25
	var inside, overlaps, total atomic.Int64
	var lastFence atomic.Uint64
	var wg sync.WaitGroup
	for w := range workers {
		s := []*Storage{a, b}[w%2]
		wg.Go(func() {
			for range rounds {
				if err := s.Lock(t.Context(), "issue_cert_example.com"); err != nil {
					t.Error(err)
					return
				}
				if inside.Add(1) != 1 {
					overlaps.Add(1)
				}
				f, ok := s.Fence("issue_cert_example.com")
				if prev := lastFence.Swap(f); !ok || f <= prev {
					t.Errorf("fence %d (ok %v) after %d", f, ok, prev)
				}
				total.Add(1)
				inside.Add(-1)
				if err := s.Unlock(t.Context(), "issue_cert_example.com"); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if overlaps.Load() != 0 || total.Load() != workers*rounds {
		t.Errorf("overlaps %d, critical sections %d of %d", overlaps.Load(), total.Load(), workers*rounds)
	}
}

func TestLockWaitsForUnlock(t *testing.T) {
	a, b := pair(t, Options{LockTTL: time.Second, LockPoll: 5 * time.Millisecond})
	ctx := t.Context()
	if err := a.Lock(ctx, "n"); err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() { got <- b.Lock(ctx, "n") }()
	if ok, err := b.TryLock(ctx, "n"); ok || err != nil {
		t.Fatalf("TryLock while held = %v, %v", ok, err)
	}
	select {
	case err := <-got:
		t.Fatalf("b.Lock returned %v while a holds the lock", err)
	default:
	}
	if err := a.Unlock(ctx, "n"); err != nil {
		t.Fatal(err)
	}
	if err := within(t, got, 5*time.Second, "b.Lock after Unlock"); err != nil {
		t.Fatal(err)
	}
	if err := a.Unlock(ctx, "n"); !errors.Is(err, ErrNotHeld) {
		t.Errorf("second Unlock = %v, want ErrNotHeld", err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := a.Lock(short, "n"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Lock past its deadline = %v", err)
	}
}

func TestRenewalKeepsLock(t *testing.T) {
	a, b := pair(t, Options{LockTTL: 300 * time.Millisecond})
	ctx := t.Context()
	if err := a.Lock(ctx, "n"); err != nil {
		t.Fatal(err)
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for end := time.Now().Add(3 * 300 * time.Millisecond); time.Now().Before(end); <-tick.C {
		if ok, err := b.TryLock(ctx, "n"); ok || err != nil {
			t.Fatalf("b took a renewed lock: %v, %v", ok, err)
		}
	}
	if err := a.RenewLockLease(ctx, "n", time.Hour); err != nil {
		t.Fatal(err)
	}
	if ttl := a.rdb.PTTL(ctx, a.lockKey("n")).Val(); ttl < 50*time.Minute {
		t.Errorf("PTTL after RenewLockLease = %v", ttl)
	}
	if err := a.Unlock(ctx, "n"); err != nil {
		t.Fatal(err)
	}
}

// A holder that stops renewing loses the lock after LockTTL; its late
// writes and Unlock do not touch the new holder's lock.
func TestDeadHolderLosesLock(t *testing.T) {
	a, b := pair(t, Options{LockTTL: 300 * time.Millisecond, LockPoll: 10 * time.Millisecond})
	ctx := t.Context()
	if err := a.Lock(ctx, "n"); err != nil {
		t.Fatal(err)
	}
	fa, _ := a.Fence("n")
	if err := a.Store(WithLock(ctx, "n"), "k", []byte("from a")); err != nil {
		t.Fatalf("fenced Store while holding: %v", err)
	}
	a.stopRenewal("n")
	start := time.Now()
	wait, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := b.Lock(wait, "n"); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("b acquired after %v, before the lease could expire", d)
	}
	fb, ok := b.Fence("n")
	if !ok || fb <= fa {
		t.Errorf("fences a=%d b=%d (ok %v), want b > a", fa, fb, ok)
	}
	if err := a.Store(WithLock(ctx, "n"), "k", []byte("late a")); !errors.Is(err, ErrLockLost) {
		t.Errorf("late fenced Store = %v, want ErrLockLost", err)
	}
	if v, _ := a.Load(ctx, "k"); string(v) != "from a" {
		t.Errorf("k = %q after refused write", v)
	}
	if err := a.Unlock(ctx, "n"); !errors.Is(err, ErrLockLost) {
		t.Errorf("late Unlock = %v, want ErrLockLost", err)
	}
	if got := b.rdb.Get(ctx, b.lockKey("n")).Val(); !strings.HasPrefix(got, fmt.Sprintf("%d:", fb)) {
		t.Errorf("lock value %q is not b's (fence %d)", got, fb)
	}
	if err := b.Store(WithLock(ctx, "n"), "k", []byte("from b")); err != nil {
		t.Errorf("b's fenced Store: %v", err)
	}
	if err := b.Unlock(ctx, "n"); err != nil {
		t.Errorf("b's Unlock: %v", err)
	}
}

// A lease whose lock another holder took is declared lost by the renewal.
func TestLeaseLostObservable(t *testing.T) {
	a, _ := pair(t, Options{LockTTL: 90 * time.Millisecond})
	ctx := t.Context()
	if _, ok := a.Fence("n"); ok || a.Lost("n") != nil {
		t.Fatal("Fence or Lost report a lock never taken")
	}
	if err := a.Lock(ctx, "n"); err != nil {
		t.Fatal(err)
	}
	lost := a.Lost("n")
	a.rdb.Set(ctx, a.lockKey("n"), "999:intruder", time.Minute)
	within(t, lost, 5*time.Second, "lease lost")
	if _, ok := a.Fence("n"); ok || a.LeasesLost() != 1 {
		t.Errorf("after loss Fence ok=%v LeasesLost=%d", ok, a.LeasesLost())
	}
	if err := a.Store(WithLock(ctx, "n"), "k", nil); !errors.Is(err, ErrLockLost) {
		t.Errorf("Store under a lost lock = %v", err)
	}
	if err := a.Unlock(ctx, "n"); !errors.Is(err, ErrLockLost) {
		t.Errorf("Unlock of a lost lock = %v", err)
	}
	if got := a.rdb.Get(ctx, a.lockKey("n")).Val(); got != "999:intruder" {
		t.Errorf("lock value %q, the intruder's was deleted", got)
	}
	if err := a.Store(WithLock(ctx, "never"), "k", nil); !errors.Is(err, ErrLockLost) {
		t.Errorf("Store under a lock never held = %v", err)
	}
}

func TestCloseReleasesLocks(t *testing.T) {
	a, b := pair(t, Options{LockTTL: time.Minute})
	ctx := t.Context()
	if err := a.Lock(ctx, "n"); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if ok, err := b.TryLock(ctx, "n"); !ok || err != nil {
		t.Errorf("TryLock after the holder closed = %v, %v", ok, err)
	}
	if err := a.Lock(ctx, "m"); err == nil {
		t.Error("Lock on a closed Storage succeeded")
	}
}
