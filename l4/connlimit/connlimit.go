// Package connlimit admits or refuses new connections per client IP: a cap
// on the connections one address holds at once, and a token bucket on how
// fast it may open new ones. Global and per-listener caps are the
// listener's (listener.Options.MaxConnections); this is the per-client part.
//
// State lives in a sharded map keyed by address. An entry exists while its
// address holds a connection or its bucket is refilling, so the map is
// bounded by the connections open plus the addresses seen in the last
// refill period; MaxTracked bounds it for certain. The limiter cleans up
// after itself, with no goroutine: an address without a rate limit is
// forgotten with its last connection, and a shard drops its idle entries
// when a new address arrives after Limits.Sweep, or finds the shard full
// (at most once a second).
package connlimit

import (
	"net/netip"
	"sync"
	"time"
)

// Limits are the per-client limits; a zero field is no limit.
type Limits struct {
	PerIP      int           // connections one address may hold at once
	Rate       float64       // new connections per second per address
	Burst      int           // bucket size: connections opened at once before Rate applies (default: max(1, Rate))
	MaxTracked int           // addresses tracked at most (default 1 << 20); past it new addresses are refused
	Sweep      time.Duration // a shard's idle entries are removed at most this often (default 10 s), and whenever it is full
}

// Reason says why a connection was refused.
type Reason string

// Reasons for a refusal, used as metric labels.
const (
	PerIPCap   Reason = "per_ip_cap"
	RateLimit  Reason = "rate_limit"
	TableFull  Reason = "table_full"
	shardCount        = 64
	fullSweep         = time.Second // least time between sweeps of a full shard
)

// Limiter applies Limits. Safe for concurrent use.
type Limiter struct {
	l      Limits
	shards [shardCount]shard
	now    func() time.Time
	maxPer int // MaxTracked per shard
}

type shard struct {
	mu    sync.Mutex
	m     map[netip.Addr]*entry
	swept time.Time // last sweep of this shard
}

type entry struct {
	active int
	tokens float64
	last   time.Time // when tokens was computed
}

// New makes a Limiter.
func New(l Limits) *Limiter {
	if l.Burst <= 0 {
		l.Burst = max(1, int(l.Rate))
	}
	if l.MaxTracked <= 0 {
		l.MaxTracked = 1 << 20
	}
	if l.Sweep <= 0 {
		l.Sweep = 10 * time.Second
	}
	lim := &Limiter{l: l, now: time.Now, maxPer: max(1, l.MaxTracked/shardCount)}
	for i := range lim.shards {
		lim.shards[i].m = map[netip.Addr]*entry{}
	}
	return lim
}

// Enabled reports whether any per-client limit is set.
func (lim *Limiter) Enabled() bool { return lim.l.PerIP > 0 || lim.l.Rate > 0 }

func (lim *Limiter) shard(a netip.Addr) *shard {
	b := a.As16()
	h := uint32(2166136261)
	for _, c := range b[8:] { // the host part: IPv4 sits in the last 4 bytes
		h = (h ^ uint32(c)) * 16777619
	}
	return &lim.shards[h%shardCount]
}

// Acquire admits a new connection from a, or says why not. An admitted
// connection must call Release(a) once when it closes.
func (lim *Limiter) Acquire(a netip.Addr) (Reason, bool) {
	a = a.Unmap()
	s := lim.shard(a)
	now := lim.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.m[a]
	if e == nil {
		// A full shard is swept at most once a second: when it is full of
		// live entries, sweeping for every new address would cost the
		// whole shard each time.
		if since := now.Sub(s.swept); since >= lim.l.Sweep || len(s.m) >= lim.maxPer && since >= fullSweep {
			lim.sweep(s, now)
		}
		if len(s.m) >= lim.maxPer {
			return TableFull, false
		}
		e = &entry{tokens: float64(lim.l.Burst), last: now}
		s.m[a] = e
	}
	if lim.l.PerIP > 0 && e.active >= lim.l.PerIP {
		return PerIPCap, false
	}
	if lim.l.Rate > 0 {
		e.refill(now, lim.l.Rate, lim.l.Burst)
		if e.tokens < 1 {
			return RateLimit, false
		}
		e.tokens--
	}
	e.active++
	return "", true
}

// Release ends a connection admitted by Acquire.
func (lim *Limiter) Release(a netip.Addr) {
	a = a.Unmap()
	s := lim.shard(a)
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.m[a]
	if e == nil || e.active == 0 {
		return
	}
	e.active--
	if e.active == 0 && lim.l.Rate == 0 {
		delete(s.m, a) // no bucket to remember
	}
}

func (e *entry) refill(now time.Time, rate float64, burst int) {
	if d := now.Sub(e.last).Seconds(); d > 0 {
		e.tokens = min(float64(burst), e.tokens+d*rate)
	}
	e.last = now
}

// Sweep drops, in every shard, the entries with no connection whose
// bucket is full again. Acquire does this shard by shard as it goes; Sweep
// is for callers that want it all at once.
func (lim *Limiter) Sweep() {
	now := lim.now()
	for i := range lim.shards {
		s := &lim.shards[i]
		s.mu.Lock()
		lim.sweep(s, now)
		s.mu.Unlock()
	}
}

// sweep drops s's idle entries; s.mu is held.
func (lim *Limiter) sweep(s *shard, now time.Time) {
	s.swept = now
	for a, e := range s.m {
		if e.active > 0 {
			continue
		}
		if lim.l.Rate > 0 {
			e.refill(now, lim.l.Rate, lim.l.Burst)
			if e.tokens < float64(lim.l.Burst) {
				continue
			}
		}
		delete(s.m, a)
	}
}

// Tracked is the number of addresses with state.
func (lim *Limiter) Tracked() int {
	n := 0
	for i := range lim.shards {
		s := &lim.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}
