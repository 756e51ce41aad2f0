package loadstat

import (
	"context"
	"sync"
	"time"
)

// Op is one operation of a load generator's worker: it blocks until done
// and returns its error. ctx ends with the measured run; an operation still
// in flight then is neither counted nor an error, so an operation may set
// ctx's deadline on its sockets.
type Op func(ctx context.Context, worker int) error

// Drive runs workers goroutines that each repeat op until d has passed
// (or ctx is done), and returns their recorders. It blocks until every
// worker has returned.
func Drive(ctx context.Context, workers int, d time.Duration, op Op) []*Recorder {
	end := time.Now().Add(d)
	ctx, cancel := context.WithDeadline(ctx, end)
	defer cancel()
	// An operation may fail on a socket deadline of end a moment before
	// ctx's timer fires: past end, nothing counts.
	over := func() bool { return ctx.Err() != nil || !time.Now().Before(end) }
	recs := make([]*Recorder, workers)
	var wg sync.WaitGroup
	for w := range workers {
		recs[w] = &Recorder{}
		wg.Go(func() {
			for !over() {
				start := time.Now()
				err := op(ctx, w)
				switch {
				case over():
					return
				case err != nil:
					recs[w].Fail(err)
				default:
					recs[w].OK(time.Since(start))
				}
			}
		})
	}
	wg.Wait()
	return recs
}
