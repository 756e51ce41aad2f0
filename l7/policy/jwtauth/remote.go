package jwtauth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// remoteSet is one JWKS URL's keys: an immutable keyIndex behind an atomic
// pointer that requests read, replaced whole by a background fetcher and by
// fetches that tokens with unknown key ids ask for. A failed fetch keeps the
// previous keys.
type remoteSet struct {
	url    string
	shown  string // url with any password redacted, for logs
	client *http.Client
	log    *slog.Logger
	now    func() time.Time
	refs   int // guarded by KeySets.mu

	keys    atomic.Pointer[keyIndex] // nil until a fetch succeeds
	timings atomic.Pointer[timings]

	ctx    context.Context // ends at stop
	cancel context.CancelFunc
	wg     sync.WaitGroup // the loop and running fetches

	mu           sync.Mutex
	call         *fetchCall // the fetch in flight, or nil
	lastOnDemand time.Time  // start of the last fetch asked for by a request
	lastErr      error      // the last fetch's error, nil after a success
}

// fetchCall is one fetch that any number of callers wait for.
type fetchCall struct {
	done chan struct{} // closed when err is set
	err  error
}

func newRemoteSet(rawURL string, client *http.Client, log *slog.Logger, now func() time.Time) *remoteSet {
	shown := rawURL
	if u, err := url.Parse(rawURL); err == nil {
		shown = u.Redacted()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &remoteSet{url: rawURL, shown: shown, client: client, log: log, now: now, ctx: ctx, cancel: cancel}
}

// start begins the first fetch, so that it is in flight before any request
// can ask for one, and runs the background fetcher.
func (rs *remoteSet) start() {
	first := rs.begin(false, nil)
	rs.wg.Add(1)
	go rs.loop(first)
}

// stop ends the fetcher and any fetch in flight and waits for them. The
// cancel happens under mu so that begin never starts a fetch after it.
func (rs *remoteSet) stop() {
	rs.mu.Lock()
	rs.cancel()
	rs.mu.Unlock()
	rs.wg.Wait()
}

// current returns the keys of the last successful fetch, or nil.
func (rs *remoteSet) current() *keyIndex { return rs.keys.Load() }

// loop waits for the first fetch c, then fetches every refresh interval; after a failure it
// retries sooner, from minRefresh doubling up to the refresh interval.
func (rs *remoteSet) loop(c *fetchCall) {
	defer rs.wg.Done()
	var backoff time.Duration
	for c != nil { // nil once stopped
		select {
		case <-c.done:
		case <-rs.ctx.Done():
			return
		}
		t := rs.timings.Load()
		wait := t.refresh
		if c.err != nil {
			backoff = min(max(2*backoff, t.minRefresh), t.refresh)
			wait = backoff
		} else {
			backoff = 0
		}
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-rs.ctx.Done():
			timer.Stop()
			return
		}
		c = rs.begin(false, nil)
	}
}

// refreshOnDemand fetches the document again for a token whose key id is
// unknown in seen, the keys the caller looked at. A fetch in flight is
// joined instead of starting another; none starts when the keys changed
// since seen (the caller looks again) or a request already caused a fetch
// less than minRefresh ago. It waits until the fetch ends or ctx does
// (each fetch is bounded by the fetch timeout) and returns the last fetch
// error, or ctx's.
func (rs *remoteSet) refreshOnDemand(ctx context.Context, seen *keyIndex) error {
	if c := rs.begin(true, seen); c != nil {
		select {
		case <-c.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.lastErr
}

// begin returns the fetch in flight or starts one; nil when stopped, or
// when onDemand and the keys are no longer seen or the last
// request-caused fetch is too recent.
func (rs *remoteSet) begin(onDemand bool, seen *keyIndex) *fetchCall {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.ctx.Err() != nil {
		return nil
	}
	if rs.call != nil {
		return rs.call
	}
	if onDemand {
		if rs.keys.Load() != seen {
			return nil
		}
		now := rs.now()
		if !rs.lastOnDemand.IsZero() && now.Sub(rs.lastOnDemand) < rs.timings.Load().minRefresh {
			return nil
		}
		rs.lastOnDemand = now
	}
	c := &fetchCall{done: make(chan struct{})}
	rs.call = c
	rs.wg.Add(1)
	go rs.run(c)
	return c
}

// run performs c's fetch, publishes the keys, and wakes c's waiters. The
// keys are published and c retired under one lock: a request that saw the
// new keys can never join c and wait for nothing new.
func (rs *remoteSet) run(c *fetchCall) {
	defer rs.wg.Done()
	idx, err := rs.fetch()
	if err != nil && rs.ctx.Err() == nil {
		rs.log.Warn("jwks fetch failed; keeping the previous keys", "url", rs.shown, "error", err)
	}
	rs.mu.Lock()
	if err == nil {
		rs.keys.Store(idx)
	}
	rs.call = nil
	rs.lastErr = err
	rs.mu.Unlock()
	c.err = err
	close(c.done)
}

// fetch gets and parses the document; a response over maxJWKSBytes, a
// status other than 200, or a document without one usable key is an error.
func (rs *remoteSet) fetch() (*keyIndex, error) {
	ctx, cancel := context.WithTimeout(rs.ctx, rs.timings.Load().fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rs.url, nil)
	if err != nil {
		return nil, fmt.Errorf("jwks fetch: %w", err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := rs.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("jwks fetch: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("jwks fetch: status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("jwks fetch: %w", err)
	}
	if len(body) > maxJWKSBytes {
		return nil, fmt.Errorf("jwks fetch: document larger than %d bytes", maxJWKSBytes)
	}
	keys, skipped, err := parseJWKS(body)
	if err != nil {
		return nil, err
	}
	for _, s := range skipped {
		rs.log.Warn("jwks key skipped", "url", rs.shown, "error", s)
	}
	if len(keys) == 0 {
		return nil, errors.New("jwks: no signature verification keys")
	}
	return newKeyIndex(keys), nil
}
