package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Defaults for RedisOptions.
const (
	DefaultRedisPrefix  = "bouncer:rl:"
	DefaultRedisTimeout = 50 * time.Millisecond
	DefaultLogEvery     = 10 * time.Second
)

// RedisOptions configures a RedisStore.
type RedisOptions struct {
	// Client is the Redis client (single node, sentinel or cluster: every
	// script touches one key). Required. The store does not close it.
	Client redis.UniversalClient
	// Prefix starts every key; DefaultRedisPrefix when empty. A counter's
	// key is Prefix + limit name + ":" + request key.
	Prefix string
	// Timeout bounds each call to Redis; DefaultRedisTimeout when 0.
	Timeout time.Duration
	// FailOpen admits requests when Redis fails or times out (Result
	// FailedOpen set, no error). Otherwise Take returns an error wrapping
	// ErrUnavailable and the Limiter answers 503: the gateway, not the
	// client, is at fault, so 429 would be wrong and 500 would claim a bug.
	FailOpen bool
	// LeaseSize, when above 1, turns on leasing (see RedisStore).
	LeaseSize int64
	// MaxKeys bounds the leases held in memory (as LocalOptions.MaxKeys).
	MaxKeys int
	// OnFailure, if set, is called once for every call to Redis that
	// failed (for a metric counter). It must not block.
	OnFailure func(err error)
	// Logger receives one line when a burst of failures starts, at most
	// one more every LogEvery while it lasts (with the count), and one when
	// Redis answers again. nil: slog.Default().
	Logger *slog.Logger
	// LogEvery is the least gap between failure log lines; DefaultLogEvery
	// when 0.
	LogEvery time.Duration
}

// RedisStore keeps GCRA state in Redis, shared by every instance that
// points at the same Redis with the same Prefix. Each decision is one Lua
// script call (EVALSHA, loaded again after a NOSCRIPT) that reads the
// clock with TIME on the server; the calls of concurrent requests share
// pipelines (see batcher), so under load a round trip serves many.
//
// Leasing (LeaseSize n > 1): a key's first request on an instance takes up
// to n cells in one script call, keeps the rest locally and spends them on
// the next requests without a round trip; an instance holds at most one
// lease a key and fetches the next one only when it is spent or expired.
// A lease expires n*T after the instant its fetch began (T =
// Period/Requests); cells not spent by then are lost. Denials are cached
// locally until the Retry-After that Redis gave. The bound: every cell
// spent in a window [a, b] was reserved in Redis during (a-n*T, b], and
// GCRA reserves at most Burst + floor(L/T + n) cells in an interval of
// length L + n*T; at most n-1 cells are unspent per instance at any
// moment. So with K instances, any window of length L admits at most
//
//	Burst + floor(L/T) + min(n, K*(n-1))
//
// requests: at most min(n, K*(n-1)) above the limit, whatever K is. The
// price is unfairness between instances and up to n-1 cells per instance
// wasted when a lease expires. Remaining and ResetAfter of leased results
// are as of the lease's fetch.
//
// Methods are safe for concurrent use.
type RedisStore struct {
	opts     RedisOptions
	leases   *table[*lease] // nil without leasing
	leaseSeq atomic.Uint64  // last lease id; 0 means "no lease"
	fail     failureLog
	batch    *batcher // concurrent calls share pipelines
}

// NewRedisStore makes a RedisStore; it does not contact Redis.
func NewRedisStore(opts RedisOptions) (*RedisStore, error) {
	if opts.Client == nil {
		return nil, errors.New("ratelimit: redis store needs a client")
	}
	if opts.LeaseSize < 0 {
		return nil, errors.New("ratelimit: lease size must not be negative")
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultRedisPrefix
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultRedisTimeout
	}
	if opts.LogEvery <= 0 {
		opts.LogEvery = DefaultLogEvery
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxKeys <= 0 {
		opts.MaxKeys = DefaultMaxKeys
	}
	s := &RedisStore{opts: opts, batch: &batcher{client: opts.Client, timeout: opts.Timeout, limit: maxQueue}}
	s.fail.every = int64(opts.LogEvery)
	if opts.LeaseSize > 1 {
		s.leases = newTable[*lease](opts.MaxKeys)
	}
	return s, nil
}

// Take implements Store. It blocks for at most Timeout on Redis (or on
// another request's lease fetch for the same key). With leasing, now
// must come from time.Now: lease expiry is measured on it.
func (s *RedisStore) Take(ctx context.Context, key string, l Limit, now time.Time) (Result, error) {
	if s.leases != nil {
		return s.takeLeased(ctx, key, l, now)
	}
	rep, err := s.call(ctx, key, l, 1)
	if err != nil {
		return s.failed(ctx, err)
	}
	return rep.result(0), nil
}

// Refund implements Refunder. A cell from a lease goes back to that lease
// if it is still the key's current one; otherwise, without leasing, the
// TAT in Redis moves back one cell (one more round trip). Failures are
// reported like Take's and returned.
func (s *RedisStore) Refund(ctx context.Context, key string, l Limit, taken Result) error {
	if !taken.Allowed || taken.FailedOpen {
		return nil
	}
	if taken.lease != 0 {
		s.refundLease(key, l, taken.lease)
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	if err := runRefund(ctx, s.opts.Client, s.redisKey(key, l), l, 1); err != nil {
		_, err = s.failed(ctx, err)
		return err
	}
	s.fail.ok(s.opts.Logger)
	return nil
}

// call runs takeScript for want cells within Timeout.
func (s *RedisStore) call(ctx context.Context, key string, l Limit, want int64) (scriptReply, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	rep, err := s.batch.take(ctx, s.redisKey(key, l), l, want)
	if err == nil {
		s.fail.ok(s.opts.Logger)
	}
	return rep, err
}

func (s *RedisStore) redisKey(key string, l Limit) string {
	return s.opts.Prefix + l.Name + ":" + key
}

// failed reports a failed call to Redis (hook, log) and returns the
// configured outcome. A request whose own context was canceled is not a
// Redis failure and is not reported.
func (s *RedisStore) failed(ctx context.Context, err error) (Result, error) {
	if errors.Is(ctx.Err(), context.Canceled) {
		return Result{}, fmt.Errorf("ratelimit: %w", ctx.Err())
	}
	if s.opts.OnFailure != nil {
		s.opts.OnFailure(err)
	}
	s.fail.failed(s.opts.Logger, err)
	return s.outcome(ctx, err)
}

// outcome is the result of a request that Redis could not decide:
// admitted when failing open, else an error wrapping ErrUnavailable.
func (s *RedisStore) outcome(ctx context.Context, err error) (Result, error) {
	if errors.Is(ctx.Err(), context.Canceled) {
		return Result{}, fmt.Errorf("ratelimit: %w", ctx.Err())
	}
	if s.opts.FailOpen {
		return Result{Allowed: true, FailedOpen: true}, nil
	}
	return Result{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// result converts a script reply; lease is the lease id, 0 for none.
func (r scriptReply) result(lease uint64) Result {
	return Result{
		Allowed:    r.granted > 0,
		Remaining:  r.remaining,
		RetryAfter: r.retry,
		ResetAfter: r.reset,
		lease:      lease,
	}
}

// failureLog rate-limits failure logging: one line when failures start,
// then at most one every `every` nanoseconds, and one on recovery.
type failureLog struct {
	every      int64
	failing    atomic.Bool
	lastLog    atomic.Int64
	suppressed atomic.Int64
}

func (f *failureLog) failed(log *slog.Logger, err error) {
	n := f.suppressed.Add(1)
	now := time.Now().UnixNano()
	last := f.lastLog.Load()
	first := !f.failing.Swap(true)
	if !first && now-last < f.every {
		return
	}
	if !f.lastLog.CompareAndSwap(last, now) {
		return
	}
	f.suppressed.Add(-n)
	log.Error("ratelimit: redis failing", "err", err, "failures", n)
}

func (f *failureLog) ok(log *slog.Logger) {
	if f.failing.Load() && f.failing.CompareAndSwap(true, false) {
		log.Info("ratelimit: redis answering again", "unlogged_failures", f.suppressed.Swap(0))
	}
}

var (
	_ Store    = (*RedisStore)(nil)
	_ Refunder = (*RedisStore)(nil)
)
