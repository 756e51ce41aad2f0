package ratelimit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bouncer-proxy/bouncer/internal/testsvc"
)

func newRedisStore(t testing.TB, addr string, opts RedisOptions) *RedisStore {
	t.Helper()
	opts.Client = newRedisClient(t, addr)
	s, err := NewRedisStore(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRedisStoreTake(t *testing.T) {
	rd := testsvc.StartRedis(t)
	s := newRedisStore(t, rd.Addr, RedisOptions{Prefix: "t:"})
	l := Limit{Name: "five", Requests: 5, Period: time.Hour}
	ctx := context.Background()
	for i := range 5 {
		r, err := s.Take(ctx, "alice", l, time.Now())
		if err != nil || !r.Allowed || r.Remaining != int64(4-i) {
			t.Fatalf("request %d: %+v %v", i, r, err)
		}
	}
	r, err := s.Take(ctx, "alice", l, time.Now())
	if err != nil || r.Allowed {
		t.Fatalf("sixth request: %+v %v", r, err)
	}
	if r.RetryAfter < 11*time.Minute || r.RetryAfter > 12*time.Minute {
		t.Fatalf("retry after %v, want about 12m", r.RetryAfter)
	}
	// Another key and another limit name count apart.
	if r, _ := s.Take(ctx, "bob", l, time.Now()); !r.Allowed {
		t.Fatal("bob denied")
	}
	if r, _ := s.Take(ctx, "alice", Limit{Name: "other", Requests: 1, Period: time.Hour}, time.Now()); !r.Allowed {
		t.Fatal("alice denied under another limit")
	}
	// The key expires when its TAT passes (one hour: five cells of 12m).
	ttl, err := s.opts.Client.PTTL(ctx, "t:five:alice").Result()
	if err != nil || ttl < 59*time.Minute || ttl > time.Hour {
		t.Fatalf("PTTL = %v, %v; want about 1h", ttl, err)
	}
	if err := s.Refund(ctx, "alice", l, Result{Allowed: true}); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.Take(ctx, "alice", l, time.Now()); !r.Allowed {
		t.Fatal("denied after a refund")
	}
}

func TestRedisStoreScriptFlush(t *testing.T) {
	rd := testsvc.StartRedis(t)
	s := newRedisStore(t, rd.Addr, RedisOptions{})
	l := Limit{Name: "f", Requests: 100, Period: time.Second}
	ctx := context.Background()
	if _, err := s.Take(ctx, "k", l, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := s.opts.Client.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	r, err := s.Take(ctx, "k", l, time.Now())
	if err != nil || !r.Allowed || r.Remaining != 98 {
		t.Fatalf("after SCRIPT FLUSH: %+v %v", r, err)
	}
	ok, err := s.opts.Client.ScriptExists(ctx, takeScript.Hash()).Result()
	if err != nil || !ok[0] {
		t.Fatalf("script not loaded again: %v %v", ok, err)
	}
}

// TestRedisStoreSharedLimit: two instances (two clients, two stores)
// hammer one key for about a second; together they admit no more than the
// limit allows in the time taken, plus the leasing bound.
func TestRedisStoreSharedLimit(t *testing.T) {
	rd := testsvc.StartRedis(t)
	l := Limit{Name: "shared", Requests: 200, Period: time.Second, Burst: 20}
	for _, lease := range []int64{0, 10} {
		t.Run(fmt.Sprint("lease=", lease), func(t *testing.T) {
			opts := RedisOptions{Prefix: fmt.Sprint("s", lease, ":"), LeaseSize: lease, Timeout: time.Second}
			stores := []*RedisStore{newRedisStore(t, rd.Addr, opts), newRedisStore(t, rd.Addr, opts)}
			admitted, elapsed := hammer(t, stores, l, time.Second)
			extra := int64(0)
			if lease > 1 {
				extra = min(lease, int64(len(stores))*(lease-1))
			}
			bound := l.burst() + int64(elapsed/time.Duration(l.interval())) + extra
			low := int64(elapsed/time.Duration(l.interval())) / 2
			t.Logf("admitted %d in %v; bound %d", admitted, elapsed, bound)
			if admitted > bound || admitted < low {
				t.Fatalf("admitted %d in %v, want between %d and %d", admitted, elapsed, low, bound)
			}
		})
	}
}

// hammer runs 4 goroutines per store taking cells until d has passed and
// returns the cells granted and the time from the first call to the last.
func hammer(t *testing.T, stores []*RedisStore, l Limit, d time.Duration) (int64, time.Duration) {
	var admitted atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for _, s := range stores {
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Since(start) < d {
					r, err := s.Take(context.Background(), "hot", l, time.Now())
					if err != nil {
						t.Error(err)
						return
					}
					if r.Allowed {
						admitted.Add(1)
					}
				}
			}()
		}
	}
	wg.Wait()
	return admitted.Load(), time.Since(start)
}

func TestRedisStoreDown(t *testing.T) {
	l := Limit{Name: "down", Requests: 10, Period: time.Second}
	for _, tc := range []struct {
		open  bool
		lease int64
	}{{true, 0}, {false, 0}, {true, 4}, {false, 4}} {
		open := tc.open
		t.Run(fmt.Sprint("fail_open=", open, ",lease=", tc.lease), func(t *testing.T) {
			rd := testsvc.StartRedis(t)
			var failures atomic.Int64
			var logs bytes.Buffer
			s := newRedisStore(t, rd.Addr, RedisOptions{
				FailOpen:  open,
				LeaseSize: tc.lease,
				OnFailure: func(error) { failures.Add(1) },
				Logger:    slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, nil)),
				LogEvery:  time.Hour,
			})
			ctx := context.Background()
			if r, err := s.Take(ctx, "k", l, time.Now()); err != nil || !r.Allowed {
				t.Fatalf("before stop: %+v %v", r, err)
			}
			rd.Stop()
			for range 5 {
				// Another key: no lease of it is held to spend from.
				r, err := s.Take(ctx, "k2", l, time.Now())
				if open && (err != nil || !r.Allowed || !r.FailedOpen) {
					t.Fatalf("fail open: %+v %v", r, err)
				}
				if !open && (r.Allowed || !errors.Is(err, ErrUnavailable)) {
					t.Fatalf("fail closed: %+v %v", r, err)
				}
			}
			if n := failures.Load(); n != 5 {
				t.Fatalf("failure hook called %d times, want 5", n)
			}
			if n := strings.Count(logs.String(), "redis failing"); n != 1 {
				t.Fatalf("%d failure log lines, want 1:\n%s", n, logs.String())
			}
		})
	}
}

func TestFailureLog(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&syncWriter{w: &buf}, nil))
	f := failureLog{every: int64(time.Hour)}
	for range 10 {
		f.failed(log, errors.New("boom"))
	}
	f.ok(log)
	f.ok(log)
	f.failed(log, errors.New("boom"))
	out := buf.String()
	if n := strings.Count(out, "redis failing"); n != 2 {
		t.Fatalf("%d failure lines, want 2 (start of each burst):\n%s", n, out)
	}
	if !strings.Contains(out, "unlogged_failures=9") || strings.Count(out, "answering again") != 1 {
		t.Fatalf("recovery line missing or repeated:\n%s", out)
	}
}

func TestRedisStoreLease(t *testing.T) {
	rd := testsvc.StartRedis(t)
	s := newRedisStore(t, rd.Addr, RedisOptions{LeaseSize: 4})
	l := Limit{Name: "lease", Requests: 10, Period: time.Hour, Burst: 6}
	ctx := context.Background()
	now := time.Now()
	var got []bool
	for range 8 {
		r, err := s.Take(ctx, "k", l, now)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r.Allowed)
	}
	// 6 cells: a lease of 4, then one of 2; the rest are denied (cached).
	if fmt.Sprint(got) != "[true true true true true true false false]" {
		t.Fatalf("admissions %v", got)
	}
	if n := scriptCalls(t, s); n != 3 {
		t.Fatalf("%d script calls for 8 requests, want 3", n)
	}
	// A lease expires n*T after its fetch began: T is 6m here, so at +24m
	// the next request fetches again even if cells were left.
	s2 := newRedisStore(t, rd.Addr, RedisOptions{LeaseSize: 4, Prefix: "exp:"})
	r, _ := s2.Take(ctx, "k", l, now)
	before := scriptCalls(t, s2)
	if r2, _ := s2.Take(ctx, "k", l, now.Add(24*time.Minute-time.Nanosecond)); !r2.Allowed || scriptCalls(t, s2) != before {
		t.Fatal("a live lease was not used")
	}
	if _, err := s2.Take(ctx, "k", l, now.Add(24*time.Minute)); err != nil || scriptCalls(t, s2) != before+1 {
		t.Fatalf("an expired lease was used: %v", err)
	}
	// A refund goes back to its own lease only.
	s3 := newRedisStore(t, rd.Addr, RedisOptions{LeaseSize: 4, Prefix: "ref:"})
	r, _ = s3.Take(ctx, "k", l, now)
	_ = s3.Refund(ctx, "k", l, r)
	_ = s3.Refund(ctx, "k", l, Result{Allowed: true, lease: r.lease + 1000})
	if r2, _ := s3.Take(ctx, "k", l, now); r2.Remaining != r.Remaining {
		t.Fatalf("after a refund remaining = %d, want %d", r2.Remaining, r.Remaining)
	}
}

// scriptCalls counts the successful EVAL and EVALSHA calls Redis served.
func scriptCalls(t *testing.T, s *RedisStore) int {
	t.Helper()
	info, err := s.opts.Client.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(info, "\r\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok || (name != "cmdstat_eval" && name != "cmdstat_evalsha") {
			continue
		}
		var calls, failed int
		for _, kv := range strings.Split(rest, ",") {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "calls":
				fmt.Sscan(v, &calls)
			case "failed_calls", "rejected_calls":
				var x int
				fmt.Sscan(v, &x)
				failed += x
			}
		}
		n += calls - failed
	}
	return n
}

// syncWriter serialises writes to w for loggers used from many goroutines.
type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// TestRedisStoreLeaseConcurrent: goroutines sharing leases of one key
// spend exactly the Burst cells Redis holds, no more, none lost.
func TestRedisStoreLeaseConcurrent(t *testing.T) {
	rd := testsvc.StartRedis(t)
	s := newRedisStore(t, rd.Addr, RedisOptions{LeaseSize: 8, Timeout: time.Second})
	l := Limit{Name: "lc", Requests: 50, Period: time.Hour}
	now := time.Now()
	var admitted atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				r, err := s.Take(context.Background(), "k", l, now)
				if err != nil {
					t.Error(err)
					return
				}
				if r.Allowed {
					admitted.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if n := admitted.Load(); n != 50 {
		t.Fatalf("admitted %d, want exactly 50", n)
	}
}
