package h2

import "sync"

// Handlers run on pooled goroutines. A new goroutine starts with a small
// stack, and a proxied request runs deep (routing, proxy, HPACK encoding):
// its stack would be grown and copied two or three times per request,
// about a tenth of the CPU of a proxied gRPC call. A worker keeps the
// stack it grew for the next request.
//
// The pool is shared by every server. Idle workers wait on their own
// channel; at most maxIdleWorkers wait, the others end when their request
// does, so a burst leaves no more than that many goroutines behind.
const maxIdleWorkers = 256

type worker struct{ work chan func() }

var workers struct {
	mu   sync.Mutex
	idle []*worker
}

// goHandler runs fn on an idle worker, or on a new one.
func goHandler(fn func()) {
	workers.mu.Lock()
	if n := len(workers.idle); n > 0 {
		w := workers.idle[n-1]
		workers.idle = workers.idle[:n-1]
		workers.mu.Unlock()
		w.work <- fn
		return
	}
	workers.mu.Unlock()
	go (&worker{work: make(chan func(), 1)}).run(fn)
}

// run serves fn, then waits for more work while the pool has room.
func (w *worker) run(fn func()) {
	for {
		fn()
		workers.mu.Lock()
		if len(workers.idle) >= maxIdleWorkers {
			workers.mu.Unlock()
			return
		}
		workers.idle = append(workers.idle, w)
		workers.mu.Unlock()
		fn = <-w.work
	}
}
