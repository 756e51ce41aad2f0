// Package ratelimit is Bouncer's rate-limit policy: the generic cell rate
// algorithm (GCRA) over a Store that is either local to one instance
// (LocalStore) or shared between instances through Redis (RedisStore),
// and a Limiter that applies a route's limits to requests and answers with
// the IETF RateLimit header fields and 429.
//
// GCRA keeps one number per key, the theoretical arrival time (TAT): the
// moment at which the key's bucket would be full again. A limit of
// Requests per Period emits one cell every T = Period/Requests; a request
// conforms when TAT - Burst*T <= now - T, that is when at least one of the
// Burst cells is free. Admitting it moves TAT forward by T. In any
// interval of length D at most Burst + floor(D/T) requests conform.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
)

// maxTolerance bounds Burst*T so that TAT arithmetic in nanoseconds since
// the Unix epoch cannot overflow int64 (about 292 years of range).
const maxTolerance = 100 * 365 * 24 * time.Hour

// Limit is one rate: Requests per Period, with bursts of up to Burst
// requests at once. Burst 0 means Burst = Requests. Name identifies the
// limit's counters: two limits with the same name share them, so names
// must differ between limits meant to count apart. Name is also the
// policy identifier in the RateLimit header fields.
type Limit struct {
	Name     string
	Requests int64
	Period   time.Duration
	Burst    int64
}

// Validate reports whether l can be used: a printable ASCII name without
// ':' (it ends the name in RedisStore keys), positive
// Requests and Period, a Burst that is not negative and a burst tolerance
// (Burst*Period/Requests) below 100 years.
func (l Limit) Validate() error {
	if l.Name == "" {
		return errors.New("ratelimit: limit has no name")
	}
	for i := 0; i < len(l.Name); i++ {
		if c := l.Name[i]; c < 0x20 || c > 0x7e || c == ':' {
			return fmt.Errorf("ratelimit: limit %q: name must be printable ASCII without ':'", l.Name)
		}
	}
	if l.Requests <= 0 {
		return fmt.Errorf("ratelimit: limit %q: requests must be positive", l.Name)
	}
	if l.Period <= 0 {
		return fmt.Errorf("ratelimit: limit %q: period must be positive", l.Name)
	}
	if l.Burst < 0 {
		return fmt.Errorf("ratelimit: limit %q: burst must not be negative", l.Name)
	}
	if l.burst() > int64(maxTolerance)/l.interval() {
		return fmt.Errorf("ratelimit: limit %q: burst*period/requests exceeds %v", l.Name, maxTolerance)
	}
	return nil
}

// interval is the emission interval T in nanoseconds, at least 1. The
// division truncates, so a limit admits at most Requests nanoseconds' worth
// of extra requests per Period: negligible.
func (l Limit) interval() int64 {
	return max(int64(l.Period)/l.Requests, 1)
}

// burst is Burst with its default applied.
func (l Limit) burst() int64 {
	if l.Burst == 0 {
		return l.Requests
	}
	return l.Burst
}

// window returns the limit expressed as a quota q over a whole number of
// seconds w, for RateLimit-Policy: w is Period rounded up to seconds and q
// is Requests scaled to w (rounded down) when Period is not whole seconds.
func (l Limit) window() (q, w int64) {
	w = int64(math.Ceil(l.Period.Seconds()))
	if time.Duration(w)*time.Second == l.Period {
		return l.Requests, w
	}
	return int64(float64(l.Requests) * float64(w) * float64(time.Second) / float64(l.Period)), w
}

// Result is the outcome of one Take.
type Result struct {
	// Allowed says whether the request conforms; it took one cell.
	Allowed bool
	// Remaining is how many more requests would conform right now.
	Remaining int64
	// RetryAfter is, on denial, how long until one request conforms.
	RetryAfter time.Duration
	// ResetAfter is how long until the bucket is full again (all Burst
	// requests available); on denial it is counted without this request.
	ResetAfter time.Duration
	// FailedOpen marks a result the store could not decide (its backend
	// failed) and admitted because it is configured to fail open.
	FailedOpen bool

	lease uint64 // RedisStore: the lease the cell came from, 0 for none
}

// Store keeps GCRA state. Counters are kept per (l.Name, key), so limits
// with different names never share a counter even for the same key.
//
// Take decides one request at time now and, when it conforms, consumes
// one cell. It is called from request goroutines, concurrently; it may
// block for I/O (RedisStore) but honours ctx. An error means the store
// could not decide; Result is then zero (not allowed).
type Store interface {
	Take(ctx context.Context, key string, l Limit, now time.Time) (Result, error)
}

// Refunder is implemented by stores that can give back a cell that Take
// consumed, so that a request denied by one of a route's limits does not
// consume the others. taken is the Result that Take returned. A refund
// that cannot be applied exactly is dropped: the error then is at most one
// cell too few, never too many.
type Refunder interface {
	Refund(ctx context.Context, key string, l Limit, taken Result) error
}

// ErrUnavailable wraps every error of a store whose backend (Redis) could
// not answer in time; the Limiter answers 503 to it.
var ErrUnavailable = errors.New("ratelimit: store unavailable")
