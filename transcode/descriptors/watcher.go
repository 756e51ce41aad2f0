package descriptors

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMinInterval is the least time between two refresh rounds when
// WatcherConfig.MinInterval is zero.
const DefaultMinInterval = time.Second

// ErrStopped is returned by Refresh once the Watcher is stopped.
var ErrStopped = errors.New("descriptors: watcher stopped")

// WatcherConfig configures a Watcher. Set either Endpoints or Protoset.
type WatcherConfig struct {
	// Endpoints returns the addresses (host:port) of the upstream's
	// endpoints; it is called at the start of every round, so a changing
	// endpoint list (DNS, config) is followed.
	Endpoints func() []string
	// Protoset, when not empty, is a binary FileDescriptorSet file read on
	// every round instead of reflection; Endpoints is then not used.
	Protoset string
	// Options are used for every Fetch.
	Options Options
	// Interval between periodic rounds after Start (0: a round at Start,
	// then only on demand).
	Interval time.Duration
	// MinInterval is the least time from the end of a round to the start
	// of the next (0: DefaultMinInterval), so that a flood of unknown-method
	// failures cannot hammer the upstream with reflection calls.
	MinInterval time.Duration
	// OnChange is called with the new Set when the served digest changes,
	// including the first success; never for an unchanged set. Calls come
	// from the round's goroutine, one at a time, in order.
	OnChange func(*Set)
	// Logger gets change, failure and version-skew messages (nil: discard).
	Logger *slog.Logger
}

// EndpointStatus is the outcome of the last fetch from one endpoint (or
// the protoset file, whose path is then the Address).
type EndpointStatus struct {
	Address   string
	Digest    string // empty when the fetch failed
	Err       string // empty when the fetch succeeded
	FetchedAt time.Time
}

// Watcher keeps the descriptors of one upstream fresh. Each round fetches
// from every endpoint and serves the Set most endpoints agree on: every
// endpoint that answered votes for its digest and the most votes win; a
// tie goes to the digest first seen in the most recent round (a rollout
// that reaches half of the endpoints moves the served schema forward),
// then to the digest of the earliest endpoint in endpoint order. Failed
// endpoints do not vote, and a round where all failed keeps the last good
// Set. Disagreeing endpoints are logged as a warning naming each endpoint
// with its digest. All methods are safe for concurrent use.
type Watcher struct {
	cfg    WatcherConfig
	log    *slog.Logger
	ctx    context.Context // rounds run under it; cancelled by Stop
	cancel context.CancelFunc
	wg     sync.WaitGroup // the loop and in-flight rounds

	cur    atomic.Pointer[Set]
	status atomic.Pointer[[]EndpointStatus]

	mu       sync.Mutex
	inflight *round    // the round running now, nil if none
	lastEnd  time.Time // end of the last round
	lastErr  error     // its result
	started  bool
	stopped  bool

	// firstSeen maps a digest to the round that first saw it; only the
	// goroutine of the (single) running round touches it.
	firstSeen map[string]uint64
	rounds    uint64
}

// round is one refresh shared by every caller that asks while it runs.
type round struct {
	done chan struct{}
	err  error // written before done is closed
}

// NewWatcher returns a Watcher that does nothing until Start or Refresh.
func NewWatcher(cfg WatcherConfig) *Watcher {
	if cfg.MinInterval <= 0 {
		cfg.MinInterval = DefaultMinInterval
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Watcher{cfg: cfg, log: log, ctx: ctx, cancel: cancel, firstSeen: map[string]uint64{}}
}

// Current returns the Set being served, nil until a round succeeded.
// It never blocks.
func (w *Watcher) Current() *Set { return w.cur.Load() }

// Status returns the outcome of the last round per endpoint, in endpoint
// order (for the admin API). It never blocks.
func (w *Watcher) Status() []EndpointStatus {
	if p := w.status.Load(); p != nil {
		return append([]EndpointStatus(nil), (*p)...)
	}
	return nil
}

// Start runs a first round now, in the background, then one every
// Interval (if not zero) until ctx is done or Stop is called. It returns
// at once; calls after the first do nothing.
func (w *Watcher) Start(ctx context.Context) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.started || w.stopped {
		return
	}
	w.started = true
	w.wg.Add(1)
	go w.loop(ctx)
}

// Stop ends the periodic rounds, cancels a running round and waits for
// both to finish. The last Set stays readable; Refresh then returns
// ErrStopped.
func (w *Watcher) Stop() {
	w.mu.Lock()
	w.stopped = true
	w.mu.Unlock()
	w.cancel()
	w.wg.Wait()
}

// Refresh runs a round and waits for it (or for ctx), returning its error.
// Callers that ask while a round runs share it. A caller asking sooner
// than MinInterval after the last round ended gets that round's result
// without a new fetch. The round itself runs under the Watcher's own
// context: a caller giving up does not cancel it for the others.
func (w *Watcher) Refresh(ctx context.Context) error {
	r, err := w.begin()
	if r == nil {
		return err
	}
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// RequestRefresh asks for a round without waiting for it, under the same
// rate limit as Refresh; transcoding calls it when an upstream answers
// that a method is unknown. It never blocks.
func (w *Watcher) RequestRefresh() {
	_, _ = w.begin()
}

// begin returns the running round, or starts one, or returns nil and the
// last result when the rate limit says no.
func (w *Watcher) begin() (*round, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.stopped:
		return nil, ErrStopped
	case w.inflight != nil:
		return w.inflight, nil
	case !w.lastEnd.IsZero() && time.Since(w.lastEnd) < w.cfg.MinInterval:
		return nil, w.lastErr
	}
	r := &round{done: make(chan struct{})}
	w.inflight = r
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		err := w.runRound(w.ctx)
		w.mu.Lock()
		w.inflight, w.lastEnd, w.lastErr = nil, time.Now(), err
		w.mu.Unlock()
		r.err = err
		close(r.done)
	}()
	return r, nil
}

// loop runs the first and the periodic rounds.
func (w *Watcher) loop(ctx context.Context) {
	defer w.wg.Done()
	_ = w.Refresh(ctx) // a failure is logged by the round
	if w.cfg.Interval <= 0 {
		return
	}
	t := time.NewTicker(w.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.ctx.Done():
			return
		case <-t.C:
			_ = w.Refresh(ctx)
		}
	}
}
