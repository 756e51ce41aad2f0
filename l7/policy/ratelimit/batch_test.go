package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
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

// stallHook holds the first pipeline sent after stall is set until
// release closes (a Redis that stops answering), signalling held when it
// does; it records the key of every script call it lets through.
type stallHook struct {
	stall   atomic.Bool
	held    chan struct{}
	release chan struct{}
	mu      sync.Mutex
	keys    []string
}

func (h *stallHook) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (h *stallHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (h *stallHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if h.stall.CompareAndSwap(true, false) {
			h.held <- struct{}{}
			<-h.release
		}
		h.mu.Lock()
		for _, c := range cmds {
			if args := c.Args(); len(args) > 3 { // EVALSHA sha 1 key ...
				h.keys = append(h.keys, fmt.Sprint(args[3]))
			}
		}
		h.mu.Unlock()
		return next(ctx, cmds)
	}
}

// While Redis stalls, calls whose callers gave up leave the queue and are
// never sent, and a call finding the queue full fails at once (503 when
// failing closed) instead of waiting behind it.
func TestRedisQueueBoundedWhileStalled(t *testing.T) {
	rd := testsvc.StartRedis(t)
	c := newRedisClient(t, rd.Addr)
	hook := &stallHook{held: make(chan struct{}, 1), release: make(chan struct{})}
	c.AddHook(hook)
	s, err := NewRedisStore(RedisOptions{Client: c, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	s.batch.limit = 4
	l := Limit{Name: "q", Requests: 100, Period: time.Second}
	if _, err := s.Take(context.Background(), "warm", l, time.Now()); err != nil { // loads the script
		t.Fatal(err)
	}
	queued := func() int {
		s.batch.mu.Lock()
		defer s.batch.mu.Unlock()
		return len(s.batch.queue)
	}
	hook.stall.Store(true)
	results := make(chan error, 2)
	take := func(ctx context.Context, key string) {
		_, err := s.Take(ctx, key, l, time.Now())
		results <- err
	}
	go take(context.Background(), "first")
	select {
	case <-hook.held:
	case <-time.After(10 * time.Second):
		t.Fatal("the first pipeline never went out")
	}
	gone, giveUp := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { _, _ = s.Take(gone, "gone", l, time.Now()) })
	}
	waitFor(t, "4 calls queued", func() bool { return queued() == 4 })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := s.Take(ctx, "over", l, time.Now()); !errors.Is(err, errQueueFull) || !errors.Is(err, ErrUnavailable) {
		t.Errorf("a call past the full queue: %v, want an immediate %v", err, errQueueFull)
	}
	giveUp()
	wg.Wait()
	waitFor(t, "abandoned calls leave the queue", func() bool { return queued() == 0 })
	go take(context.Background(), "kept")
	waitFor(t, "a new call queued", func() bool { return queued() == 1 })
	close(hook.release)
	for range 2 {
		if err := <-results; err != nil {
			t.Errorf("a waiting call failed after Redis answered again: %v", err)
		}
	}
	hook.mu.Lock()
	defer hook.mu.Unlock()
	for _, k := range hook.keys {
		if strings.HasSuffix(k, ":gone") {
			t.Fatalf("a call whose caller gave up was sent: %v", hook.keys)
		}
	}
}

// waitFor polls cond until it holds, failing after a few seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
