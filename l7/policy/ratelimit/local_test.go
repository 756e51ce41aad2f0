package ratelimit

import (
	"context"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestLocalStoreBound(t *testing.T) {
	s := NewLocalStore(LocalOptions{MaxKeys: 640})
	l := Limit{Name: "h", Requests: 1, Period: time.Hour}
	for i := range 5000 {
		r, _ := s.Take(context.Background(), fmt.Sprint("key-", i), l, epoch)
		if !r.Allowed {
			t.Fatalf("key %d: first request denied", i)
		}
		if n := s.Len(); n > 640 {
			t.Fatalf("after %d keys the store holds %d counters, bound 640", i+1, n)
		}
	}
}

// keysInShard returns n distinct keys that hash to shard 0 of s.
func keysInShard(s *LocalStore, n int) []string {
	var keys []string
	for i := 0; len(keys) < n; i++ {
		k := fmt.Sprint("k", i)
		if maphash.String(s.t.seed, k)%shardCount == 0 {
			keys = append(keys, k)
		}
	}
	return keys
}

func TestLocalStoreEvictsExpiredThenEarliest(t *testing.T) {
	s := NewLocalStore(LocalOptions{MaxKeys: 4 * shardCount}) // 4 a shard
	k := keysInShard(s, 7)
	long := Limit{Name: "l", Requests: 1, Period: time.Hour}
	short := Limit{Name: "l", Requests: 1, Period: time.Second}
	ctx := context.Background()
	take := func(key string, l Limit, at time.Duration) {
		t.Helper()
		if r, _ := s.Take(ctx, key, l, epoch.Add(at)); !r.Allowed {
			t.Fatalf("%s denied", key)
		}
	}
	take(k[0], long, 0)
	take(k[1], short, 0)
	take(k[2], short, 0)
	take(k[3], long, time.Millisecond)
	// At +2s k[1] and k[2] have expired: a new key drops them, not k[0].
	take(k[4], long, 2*time.Second)
	assertShard(t, s, []string{k[0], k[3], k[4]})
	take(k[5], long, 3*time.Second)
	// Full with live counters: the one expiring first (k[0]) goes.
	take(k[6], long, 4*time.Second)
	assertShard(t, s, []string{k[3], k[4], k[5], k[6]})
}

func assertShard(t *testing.T, s *LocalStore, want []string) {
	t.Helper()
	m := s.t.shards[0].m
	if len(m) != len(want) {
		t.Fatalf("shard holds %d counters, want %d (%v)", len(m), len(want), want)
	}
	for _, k := range want {
		if _, ok := m[tableKey{limit: "l", key: k}]; !ok {
			t.Fatalf("shard lost %s", k)
		}
	}
}

func TestLocalStoreExpiry(t *testing.T) {
	s := NewLocalStore(LocalOptions{})
	l := Limit{Name: "e", Requests: 10, Period: time.Second} // T = 100ms
	for i := range 100 {
		s.Take(context.Background(), fmt.Sprint(i), l, epoch)
	}
	if n := s.Sweep(epoch.Add(99 * time.Millisecond)); n != 0 {
		t.Fatalf("swept %d live counters", n)
	}
	if n := s.Sweep(epoch.Add(100 * time.Millisecond)); n != 100 {
		t.Fatalf("swept %d expired counters, want 100", n)
	}
	if n := s.Len(); n != 0 {
		t.Fatalf("%d counters left", n)
	}
}

func TestLocalStoreRefund(t *testing.T) {
	s := NewLocalStore(LocalOptions{})
	l := Limit{Name: "r", Requests: 3, Period: time.Hour}
	ctx := context.Background()
	r, _ := s.Take(ctx, "k", l, epoch)
	if err := s.Refund(ctx, "k", l, r); err != nil {
		t.Fatal(err)
	}
	r, _ = s.Take(ctx, "k", l, epoch)
	if r.Remaining != 2 {
		t.Fatalf("after a refund remaining = %d, want 2", r.Remaining)
	}
}

// TestLocalStoreConcurrent: many goroutines on one key at one instant
// get exactly Burst cells between them.
func TestLocalStoreConcurrent(t *testing.T) {
	s := NewLocalStore(LocalOptions{})
	l := Limit{Name: "c", Requests: 100, Period: time.Hour}
	var admitted atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				if r, _ := s.Take(context.Background(), "same", l, epoch); r.Allowed {
					admitted.Add(1)
				}
				s.Take(context.Background(), fmt.Sprint(g, "-", i), l, epoch)
			}
		}()
	}
	wg.Wait()
	if n := admitted.Load(); n != 100 {
		t.Fatalf("admitted %d, want exactly 100", n)
	}
}

func TestLocalStoreTakeDoesNotAllocate(t *testing.T) {
	s := NewLocalStore(LocalOptions{})
	l := Limit{Name: "z", Requests: 1 << 40, Period: time.Second}
	ctx := context.Background()
	s.Take(ctx, "key", l, epoch)
	allocs := testing.AllocsPerRun(1000, func() { s.Take(ctx, "key", l, epoch) })
	if allocs != 0 {
		t.Fatalf("Take allocates %v times per call", allocs)
	}
}
