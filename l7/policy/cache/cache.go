// Package cache is Bouncer's shared HTTP cache policy (RFC 9111), a
// middleware in front of the upstream proxy. It stores GET responses in a
// Store (process memory or Redis), serves them while fresh, revalidates
// them with conditional requests when stale, serves stale within the
// origin's stale-while-revalidate and stale-if-error windows, collapses
// concurrent misses into one upstream request, and reports what it did in
// a Cache-Status header (RFC 9211).
//
// Semantics choices, beyond what RFC 9111 fixes:
//   - Only 200, 203, 204, 300, 301, 308, 404, 405, 410, 414 and 501 are
//     stored without explicit freshness; any other final status needs
//     max-age, s-maxage, Expires or public. 206 (partial content) is
//     never stored, and requests with Range bypass the cache.
//   - A response is stored only if it is fresh for some time, or can be
//     revalidated (ETag or Last-Modified), or has a stale window.
//   - A request with Authorization uses and stores only responses marked
//     public, s-maxage or must-revalidate (§3.5), whoever stored them.
//   - A request whose route authenticated the caller (l7.Info.Identity)
//     bypasses the cache unless Options.CacheAuthenticated, which adds
//     the user (method, consumer and subject) to the key so that each
//     user has their own entries; an identity that names no single user
//     still bypasses it (see userKey).
//   - A response is stored only if it arrived whole (see recorder.whole).
//   - Set-Cookie responses are not stored unless Options.SetCookie says
//     so (see SetCookieMode).
//   - HEAD is answered from GET entries; a HEAD miss is forwarded as HEAD
//     and stores nothing (§4.3.5 freshening by HEAD is not done).
//   - Vary: * is never stored, since it can never match (§4.1).
package cache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"
)

// SetCookieMode says what happens to responses carrying Set-Cookie.
type SetCookieMode int

const (
	// SetCookieSkip does not store them (the default): one client's
	// cookie is never handed to another.
	SetCookieSkip SetCookieMode = iota
	// SetCookieStrip stores them without the Set-Cookie fields; the
	// client that caused the fetch still gets its cookie.
	SetCookieStrip
	// SetCookieKeep stores them whole, for origins whose cookies are the
	// same for everyone.
	SetCookieKeep
)

// Options configure a Cache. The zero value is usable: every field has a
// default, given in its comment.
type Options struct {
	// Name is the cache's name in Cache-Status, default "Bouncer".
	Name string
	// Now is the clock, default time.Now (tests pass a controlled one).
	Now func() time.Time
	// MaxObjectBytes bounds a stored body, default 8 MiB. Larger
	// responses stream through unstored; only this much is ever held.
	MaxObjectBytes int64
	// MaxHeaderBytes bounds a stored response's header fields, default
	// 64 KiB.
	MaxHeaderBytes int
	// MaxHeuristic caps heuristic freshness (10% of the time since
	// Last-Modified), default 24h; negative turns heuristics off.
	MaxHeuristic time.Duration
	// KeepStale is how long past freshness (and the stale windows) an
	// entry with a validator is kept for conditional revalidation,
	// default 10m.
	KeepStale time.Duration
	// KeyHeaders are request headers whose values are part of the key.
	KeyHeaders []string
	// KeyQuery, when set, keeps only these query parameters in the key;
	// KeyQueryExclude drops these; IgnoreQuery drops the whole query. At
	// most one of the three may be set.
	KeyQuery        []string
	KeyQueryExclude []string
	IgnoreQuery     bool
	// CacheAuthenticated caches requests that carry an l7.Identity, with
	// the user in the key, except those whose identity names no single
	// user (see userKey). Off by default: they bypass the cache.
	CacheAuthenticated bool
	// SetCookie is the treatment of responses with Set-Cookie.
	SetCookie SetCookieMode
	// CoalesceWait bounds how long a request waits for a concurrent one
	// fetching the same key before going upstream itself, default 10s;
	// negative turns collapsing off.
	CoalesceWait time.Duration
	// MaxRefreshes bounds concurrent background revalidations
	// (stale-while-revalidate), default 8; past it a stale hit just
	// does not start one.
	MaxRefreshes int
	// RefreshTimeout bounds one background revalidation, default 30s.
	RefreshTimeout time.Duration
	// Logger receives store errors, default slog.Default().
	Logger *slog.Logger
	// OnEvent, if set, is called with each Event, from request
	// goroutines; it must be fast and safe for concurrent use.
	OnEvent func(Event)
}

// Cache is the caching middleware. It is safe for concurrent use; Close
// waits for its background revalidations.
type Cache struct {
	opts    Options
	store   Store
	keys    keyer
	flights flights
	stats   counters
	log     *slog.Logger

	refreshSem chan struct{}
	refreshing sync.Map   // entry key -> struct{}: one refresh per key
	bgMu       sync.Mutex // orders bg.Add before Close's bg.Wait
	bg         sync.WaitGroup
	bgCtx      context.Context
	bgCancel   context.CancelFunc
}

// New checks opts, fills in defaults and returns a Cache over store.
func New(opts Options, store Store) (*Cache, error) {
	if store == nil {
		return nil, errors.New("cache: store is required")
	}
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	c := &Cache{opts: opts, store: store, log: opts.Logger.With("component", "cache")}
	c.keys = keyer{ignoreQuery: opts.IgnoreQuery, include: sorted(opts.KeyQuery), exclude: sorted(opts.KeyQueryExclude)}
	for _, h := range opts.KeyHeaders {
		c.keys.headers = append(c.keys.headers, http.CanonicalHeaderKey(h))
	}
	c.flights.m = make(map[string]*flight)
	c.refreshSem = make(chan struct{}, opts.MaxRefreshes)
	c.bgCtx, c.bgCancel = context.WithCancel(context.Background())
	return c, nil
}

// defaults validates o and fills its zero fields.
func (o *Options) defaults() error {
	var errs []error
	n := 0
	for _, set := range []bool{o.KeyQuery != nil, o.KeyQueryExclude != nil, o.IgnoreQuery} {
		if set {
			n++
		}
	}
	if n > 1 {
		errs = append(errs, errors.New("cache: at most one of key query, key query exclude and ignore query"))
	}
	if o.MaxObjectBytes < 0 || o.MaxHeaderBytes < 0 || o.MaxRefreshes < 0 {
		errs = append(errs, errors.New("cache: max object bytes, max header bytes and max refreshes must not be negative"))
	}
	if o.KeepStale < 0 || o.RefreshTimeout < 0 {
		errs = append(errs, fmt.Errorf("cache: keep stale %v and refresh timeout %v must not be negative", o.KeepStale, o.RefreshTimeout))
	}
	if o.SetCookie < SetCookieSkip || o.SetCookie > SetCookieKeep {
		errs = append(errs, fmt.Errorf("cache: unknown set-cookie mode %d", o.SetCookie))
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	o.Name = or(o.Name, "Bouncer")
	if o.Now == nil {
		o.Now = time.Now
	}
	o.MaxObjectBytes = or(o.MaxObjectBytes, 8<<20)
	o.MaxHeaderBytes = or(o.MaxHeaderBytes, 64<<10)
	o.MaxHeuristic = or(o.MaxHeuristic, 24*time.Hour)
	o.KeepStale = or(o.KeepStale, 10*time.Minute)
	o.CoalesceWait = or(o.CoalesceWait, 10*time.Second)
	o.MaxRefreshes = or(o.MaxRefreshes, 8)
	o.RefreshTimeout = or(o.RefreshTimeout, 30*time.Second)
	o.Logger = or(o.Logger, slog.Default())
	return nil
}

// Wrap returns the caching handler in front of next, the upstream
// handler (the proxy), which must write a response for every request.
// next is called from the request's goroutine, or, for a background
// revalidation, from a goroutine of the Cache with a detached context.
func (c *Cache) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.serve(w, r, next)
	})
}

// Purge removes the entry (and its variants) at a primary key, in the
// form scheme://host/path?query (see the package doc). Safe to call from
// any goroutine; it blocks on the store.
func (c *Cache) Purge(ctx context.Context, key string) error {
	if err := c.store.Delete(ctx, key); err != nil {
		return fmt.Errorf("cache: purge: %w", err)
	}
	c.event(EventInvalidate)
	return nil
}

// PurgePrefix removes every entry whose key starts with prefix, e.g.
// "https://api.example.com/v1/", and returns how many store keys went.
func (c *Cache) PurgePrefix(ctx context.Context, prefix string) (int, error) {
	n, err := c.store.PurgePrefix(ctx, prefix)
	if err != nil {
		return n, fmt.Errorf("cache: purge prefix: %w", err)
	}
	c.event(EventInvalidate)
	return n, nil
}

// Close cancels background revalidations and waits for them to end. The
// Cache still serves afterwards, without starting new ones.
func (c *Cache) Close() {
	c.bgMu.Lock()
	c.bgCancel()
	c.bgMu.Unlock()
	c.bg.Wait()
}

// or returns v, or def when v is the zero value.
func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// sorted returns a sorted copy of s, nil for nil.
func sorted(s []string) []string {
	if s == nil {
		return nil
	}
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
