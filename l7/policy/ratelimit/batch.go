package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// maxBatch bounds the script calls sent in one pipeline; maxQueue bounds
// the calls waiting for one. When Redis stalls, a request arriving at a
// full queue fails at once instead of piling up behind the others.
const (
	maxBatch = 128
	maxQueue = 8 * maxBatch
)

// errQueueFull is the answer to a call made while maxQueue calls wait.
var errQueueFull = errors.New("ratelimit: too many calls waiting for redis")

// batcher sends the script calls of concurrent requests to Redis together,
// in one pipeline: one write and one read for the lot instead of one round
// trip each. It adds no wait: a call made while no batch is in flight
// starts a sender at once; calls made meanwhile queue and go in the next
// pipeline, sent as soon as the current one is answered. Under load the
// pipelines grow by themselves; alone, a call costs one goroutine switch
// more than a direct call. Callers wait on their own context, so a slow
// Redis never holds a request past its deadline; a caller that gives up
// leaves the queue, and one whose context ended before its pipeline went
// out is not sent. At most limit calls wait: more fail with errQueueFull.
type batcher struct {
	client  redis.UniversalClient
	timeout time.Duration
	limit   int // calls waiting at most

	mu       sync.Mutex
	queue    []*pending
	flushing bool
}

type pending struct {
	ctx   context.Context // the caller's: done means it gave up
	key   string
	args  []any
	reply scriptReply
	err   error
	done  chan struct{}
}

// take runs takeScript for want cells of key and waits, at most until ctx
// ends, for its answer. It fails at once with errQueueFull when limit
// calls are already waiting.
func (b *batcher) take(ctx context.Context, key string, l Limit, want int64) (scriptReply, error) {
	p := &pending{ctx: ctx, key: key, args: []any{intervalMicros(l), l.burst(), want, ""}, done: make(chan struct{})}
	b.mu.Lock()
	if len(b.queue) >= b.limit {
		b.mu.Unlock()
		return scriptReply{}, errQueueFull
	}
	b.queue = append(b.queue, p)
	if !b.flushing {
		b.flushing = true
		go b.flushAll()
	}
	b.mu.Unlock()
	select {
	case <-p.done:
		return p.reply, p.err
	case <-ctx.Done():
		b.leave(p)
		return scriptReply{}, ctx.Err()
	}
}

// leave removes p from the queue if it still waits there.
func (b *batcher) leave(p *pending) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if i := slices.Index(b.queue, p); i >= 0 {
		b.queue = slices.Delete(b.queue, i, i+1)
	}
}

// flushOnce sends what is queued (up to maxBatch calls whose callers
// still wait) as one pipeline.
func (b *batcher) flushOnce() {
	b.mu.Lock()
	batch := make([]*pending, 0, min(len(b.queue), maxBatch))
	n := 0
	for ; n < len(b.queue) && len(batch) < maxBatch; n++ {
		if p := b.queue[n]; p.ctx.Err() == nil {
			batch = append(batch, p)
		}
	}
	b.queue = b.queue[n:]
	b.mu.Unlock()
	if len(batch) > 0 {
		b.exec(batch)
	}
}

// flushAll sends pipelines until the queue is empty.
func (b *batcher) flushAll() {
	for {
		b.flushOnce()
		b.mu.Lock()
		if len(b.queue) == 0 {
			b.flushing = false
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()
	}
}

// exec sends batch in one pipeline; after a NOSCRIPT (Redis restarted or
// SCRIPT FLUSH) it loads the script and sends the batch again, once.
func (b *batcher) exec(batch []*pending) {
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	defer cancel()
	cmds, err := b.send(ctx, batch)
	if err != nil && isNoScript(err) {
		if lerr := takeScript.Load(ctx, b.client).Err(); lerr == nil {
			cmds, err = b.send(ctx, batch)
		}
	}
	for i, p := range batch {
		switch {
		case cmds == nil:
			p.err = err
		default:
			p.reply, p.err = parseTake(cmds[i])
		}
		close(p.done)
	}
}

func (b *batcher) send(ctx context.Context, batch []*pending) ([]*redis.Cmd, error) {
	pipe := b.client.Pipeline()
	cmds := make([]*redis.Cmd, len(batch))
	for i, p := range batch {
		cmds[i] = takeScript.EvalSha(ctx, pipe, []string{p.key}, p.args...)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		for _, c := range cmds {
			if c.Err() != nil && isNoScript(c.Err()) {
				return nil, c.Err()
			}
		}
		if allFailed(cmds) {
			return nil, err
		}
	}
	return cmds, nil
}

func allFailed(cmds []*redis.Cmd) bool {
	for _, c := range cmds {
		if c.Err() == nil {
			return false
		}
	}
	return true
}

func isNoScript(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT")
}

// parseTake reads one takeScript answer.
func parseTake(c *redis.Cmd) (scriptReply, error) {
	v, err := c.Int64Slice()
	if err != nil {
		return scriptReply{}, err
	}
	if len(v) != 4 {
		return scriptReply{}, fmt.Errorf("ratelimit: script answered %d values, want 4", len(v))
	}
	return scriptReply{
		granted:   v[0],
		remaining: v[1],
		retry:     time.Duration(v[2]) * time.Microsecond,
		reset:     time.Duration(v[3]) * time.Microsecond,
	}, nil
}
