package credauth

import (
	"context"
	"sync"
)

// flight makes concurrent callers with the same key share one call, as
// x/sync/singleflight does, with three differences that matter here: the
// result is typed (no interface box), a waiter stops waiting when its own
// request context ends without cancelling the call the others wait for,
// and the number of waiters is observable, so tests can prove sharing
// without sleeping.
type flight[V any] struct {
	mu    sync.Mutex
	calls map[[32]byte]*flightCall[V]
}

type flightCall[V any] struct {
	done    chan struct{}
	v       V
	err     error
	waiters int // callers beyond the one that started it
}

// do returns fn's result, running fn only if no call for key is in
// flight; otherwise it waits for that call. fn runs on its own goroutine
// and must bound its own duration; do returns ctx.Err() early if ctx
// ends first, and fn still completes for the other callers.
func (f *flight[V]) do(ctx context.Context, key [32]byte, fn func() (V, error)) (V, error) {
	f.mu.Lock()
	if f.calls == nil {
		f.calls = make(map[[32]byte]*flightCall[V])
	}
	c, ok := f.calls[key]
	if ok {
		c.waiters++
	} else {
		c = &flightCall[V]{done: make(chan struct{})}
		f.calls[key] = c
		go f.run(key, c, fn)
	}
	f.mu.Unlock()
	select {
	case <-c.done:
		return c.v, c.err
	case <-ctx.Done():
		var zero V
		return zero, ctx.Err()
	}
}

func (f *flight[V]) run(key [32]byte, c *flightCall[V], fn func() (V, error)) {
	c.v, c.err = fn()
	f.mu.Lock()
	delete(f.calls, key)
	f.mu.Unlock()
	close(c.done)
}

// waiting is the number of callers waiting on the call in flight for key
// beyond the one that started it; 0 when none is in flight.
func (f *flight[V]) waiting(key [32]byte) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.calls[key]; ok {
		return c.waiters
	}
	return 0
}
