package cache

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// fetch forwards r upstream, as a conditional request when f holds a
// response to validate. Concurrent GETs for one key are collapsed: the
// first goes upstream, the others wait (at most CoalesceWait) and then
// look again; a waiter that still finds nothing usable (the response was
// not storable, or does not suit it) goes upstream itself.
func (c *Cache) fetch(w http.ResponseWriter, r *http.Request, next http.Handler, f *found, fwd string, req *directives) {
	if r.Method != http.MethodGet || c.opts.CoalesceWait < 0 || fwd == "request" {
		c.forward(w, r, next, f, fwd, req)
		return
	}
	fl, leader := c.flights.join(f.key)
	if leader {
		defer c.flights.leave(f.key, fl)
		c.forward(w, r, next, f, fwd, req)
		return
	}
	c.event(EventCoalesced)
	if fl.wait(r.Context(), c.opts.CoalesceWait) && c.collapsed(w, r) {
		return
	}
	c.forward(w, r, next, f, fwd, req)
}

// collapsed serves r from what a finished concurrent fetch stored, if it
// is fresh and suits r.
func (c *Cache) collapsed(w http.ResponseWriter, r *http.Request) bool {
	consumer, _ := c.consumer(r)
	f := c.lookup(r.Context(), r, consumer)
	if f.entry == nil {
		return false
	}
	req := requestDirectives(r.Header)
	now := c.opts.Now()
	if v, _ := c.judge(f.entry, &req, r, now); v != useFresh {
		return false
	}
	c.event(EventHit)
	c.respond(w, r, f.entry, c.hitStatus(f.entry, now, "")+"; collapsed", now)
	return true
}

// forward calls next with r, its client validators removed (the cache
// answers them from the full response) and the stored response's
// validators added when there is one, and records the response.
func (c *Cache) forward(w http.ResponseWriter, r *http.Request, next http.Handler, f *found, fwd string, req *directives) {
	up := r.Clone(r.Context())
	up.Header.Del("If-None-Match")
	up.Header.Del("If-Modified-Since")
	if f.entry != nil {
		m := f.entry.info()
		if m.etag != "" {
			up.Header.Set("If-None-Match", m.etag)
		}
		if m.lastModified != "" {
			up.Header.Set("If-Modified-Since", m.lastModified)
		}
	}
	rec := &recorder{c: c, w: w, r: r, f: f, req: req, fwd: fwd, reqTime: c.opts.Now()}
	rec.header = make(http.Header)
	next.ServeHTTP(rec, up)
	rec.finish()
}

// flights are the fetches in progress, by key.
type flights struct {
	mu sync.Mutex
	m  map[string]*flight
}

// flight is one fetch in progress; done closes when it has finished and
// whatever it stored is in the store.
type flight struct{ done chan struct{} }

// join returns the flight for key and whether the caller leads it (and
// must call leave).
func (fs *flights) join(key string) (*flight, bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fl, ok := fs.m[key]; ok {
		return fl, false
	}
	fl := &flight{done: make(chan struct{})}
	fs.m[key] = fl
	return fl, true
}

// leave ends the leader's flight and wakes its waiters.
func (fs *flights) leave(key string, fl *flight) {
	fs.mu.Lock()
	delete(fs.m, key)
	fs.mu.Unlock()
	close(fl.done)
}

// wait blocks until the flight ends (true), or d passes or ctx ends.
func (fl *flight) wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-fl.done:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}
