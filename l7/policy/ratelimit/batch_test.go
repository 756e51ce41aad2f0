package ratelimit

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bouncer-proxy/bouncer/internal/testsvc"
)

// countPipelines counts the pipelines and the commands a client sends.
type countPipelines struct{ pipes, cmds atomic.Int64 }

func (h *countPipelines) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *countPipelines) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.cmds.Add(1)
		return next(ctx, cmd)
	}
}
func (h *countPipelines) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.pipes.Add(1)
		h.cmds.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

// Concurrent decisions share round trips, and stay exact: 64 goroutines
// asking for one key with a burst of 100 get exactly 100 cells.
func TestRedisCallsShareRoundTrips(t *testing.T) {
	rd := testsvc.StartRedis(t)
	c := newRedisClient(t, rd.Addr)
	hook := &countPipelines{}
	c.AddHook(hook)
	s, err := NewRedisStore(RedisOptions{Client: c, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	l := Limit{Name: "batch", Requests: 1, Period: time.Hour, Burst: 100}
	var admitted atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for range 10 {
				r, err := s.Take(context.Background(), "k", l, time.Now())
				if err != nil {
					t.Error(err)
					return
				}
				if r.Allowed {
					admitted.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if n := admitted.Load(); n != 100 {
		t.Fatalf("admitted %d of 640; the burst is 100", n)
	}
	pipes, cmds := hook.pipes.Load(), hook.cmds.Load()
	t.Logf("640 decisions: %d commands in %d round trips", cmds, pipes)
	if cmds < 640 || pipes >= 640 {
		t.Fatalf("%d commands in %d pipelines: concurrent calls should share round trips", cmds, pipes)
	}
}

// A lone call is sent at once, not held for company.
func TestRedisLoneCallNotDelayed(t *testing.T) {
	rd := testsvc.StartRedis(t)
	s, err := NewRedisStore(RedisOptions{Client: newRedisClient(t, rd.Addr), Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	l := Limit{Name: "lone", Requests: 10, Period: time.Second}
	for i := range 3 {
		if r, err := s.Take(context.Background(), "k", l, time.Now()); err != nil || !r.Allowed {
			t.Fatalf("take %d: %+v %v", i, r, err)
		}
	}
	// A server that accepts and never answers: the call ends at its
	// context's deadline, not later.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			defer conn.Close()
		}
	}()
	dead, err := NewRedisStore(RedisOptions{Client: newRedisClient(t, ln.Addr().String()), Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := dead.Take(context.Background(), "k", l, time.Now()); err == nil {
		t.Fatal("a silent Redis admitted a request with fail-closed")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("the call took %v; its timeout is 100ms", d)
	}
}
