package cache

import "sync/atomic"

// Event is one thing the cache did with a request or an entry.
type Event string

// The events counted in Stats and passed to Options.OnEvent.
const (
	EventHit         Event = "hit"         // served from the cache without going upstream
	EventMiss        Event = "miss"        // nothing usable stored: forwarded
	EventStale       Event = "stale"       // served stale (max-stale, stale-while-revalidate, stale-if-error)
	EventRevalidated Event = "revalidated" // a stored response was confirmed by a 304
	EventBypass      Event = "bypass"      // not cacheable by request: forwarded untouched
	EventStored      Event = "stored"      // a response was written to the store
	EventCoalesced   Event = "coalesced"   // a request waited for a concurrent fetch of its key
	EventStoreError  Event = "store_error" // the store failed; treated as a miss or skipped write
	EventInvalidate  Event = "invalidate"  // entries were removed (unsafe method, purge)
)

// Stats are the cache's counters since New.
type Stats struct {
	Hits, Misses, Stale, Revalidated, Bypass      uint64
	Stored, Coalesced, StoreErrors, Invalidations uint64
}

// counters are the live Stats.
type counters struct {
	hits, misses, stale, revalidated, bypass   atomic.Uint64
	stored, coalesced, storeErrors, invalidate atomic.Uint64
}

// Stats returns a snapshot of the counters.
func (c *Cache) Stats() Stats {
	s := &c.stats
	return Stats{
		Hits: s.hits.Load(), Misses: s.misses.Load(), Stale: s.stale.Load(),
		Revalidated: s.revalidated.Load(), Bypass: s.bypass.Load(), Stored: s.stored.Load(),
		Coalesced: s.coalesced.Load(), StoreErrors: s.storeErrors.Load(),
		Invalidations: s.invalidate.Load(),
	}
}

// event counts ev and reports it to Options.OnEvent.
func (c *Cache) event(ev Event) {
	s := &c.stats
	switch ev {
	case EventHit:
		s.hits.Add(1)
	case EventMiss:
		s.misses.Add(1)
	case EventStale:
		s.stale.Add(1)
	case EventRevalidated:
		s.revalidated.Add(1)
	case EventBypass:
		s.bypass.Add(1)
	case EventStored:
		s.stored.Add(1)
	case EventCoalesced:
		s.coalesced.Add(1)
	case EventStoreError:
		s.storeErrors.Add(1)
	case EventInvalidate:
		s.invalidate.Add(1)
	}
	if c.opts.OnEvent != nil {
		c.opts.OnEvent(ev)
	}
}
