package cache

import (
	"context"
	"net/http"

	"github.com/bouncer-proxy/bouncer/l7"
)

// refreshAsync revalidates f's stale entry in the background after a
// stale-while-revalidate hit (RFC 5861 §3): at most one refresh per key
// at a time and MaxRefreshes in all; when those are taken it does
// nothing and a later request tries again. The refresh runs with r's
// values but not its cancellation, bounded by RefreshTimeout and Close,
// and with its own copy of l7.Info so that it does not write into the
// finished request's record.
func (c *Cache) refreshAsync(r *http.Request, f *found, next http.Handler) {
	if _, busy := c.refreshing.LoadOrStore(f.key, struct{}{}); busy {
		return
	}
	select {
	case c.refreshSem <- struct{}{}:
	default:
		c.refreshing.Delete(f.key)
		return
	}
	ctx := context.WithoutCancel(r.Context())
	if info := l7.InfoFrom(ctx); info != nil {
		cp := *info
		ctx = l7.WithInfo(ctx, &cp)
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.RefreshTimeout)
	stop := context.AfterFunc(c.bgCtx, cancel)
	up, fc := r.Clone(ctx), *f
	if !c.startBackground() {
		stop()
		cancel()
		<-c.refreshSem
		c.refreshing.Delete(f.key)
		return
	}
	go func() {
		defer func() {
			if v := recover(); v != nil {
				c.log.Error("background revalidation panicked", "key", fc.primary, "panic", v)
			}
			stop()
			cancel()
			<-c.refreshSem
			c.refreshing.Delete(f.key)
			c.bg.Done()
		}()
		none := parseDirectives(nil)
		c.forward(&discard{header: make(http.Header)}, up, next, &fc, "stale", &none)
	}()
}

// startBackground counts a background goroutine in, unless Close has
// begun.
func (c *Cache) startBackground() bool {
	c.bgMu.Lock()
	defer c.bgMu.Unlock()
	if c.bgCtx.Err() != nil {
		return false
	}
	c.bg.Add(1)
	return true
}

// discard is the client of a background refresh: it takes the response
// and drops it.
type discard struct{ header http.Header }

func (d *discard) Header() http.Header         { return d.header }
func (d *discard) WriteHeader(int)             {}
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
