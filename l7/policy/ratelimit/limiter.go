package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/bouncer-proxy/bouncer/l7"
)

// Header field names, draft-ietf-httpapi-ratelimit-headers (-10 and on):
// both are Structured Field Lists of String items with parameters. They
// are spelled here in Go's canonical form ("RateLimit-Policy" in the
// draft; field names are case-insensitive) so that setting them does not
// allocate.
const (
	HeaderPolicy = "Ratelimit-Policy"
	HeaderState  = "Ratelimit"
)

// KeyFunc names the client a request counts against (an address, a user,
// an API key). false means the request has no such key: the Limiter then
// applies no limit to it and sets no header (a route that must limit
// anonymous callers uses a key func that falls back to the address).
type KeyFunc func(r *http.Request) (string, bool)

// Options configures a Limiter.
type Options struct {
	// Now is the clock; nil means time.Now. LocalStore takes its time from
	// it; RedisStore only measures lease expiry on it.
	Now func() time.Time
}

// Limiter applies a route's limits to requests. It is built once at
// config load and is safe for concurrent use.
//
// All limits must allow a request. They are taken in the order given;
// when limit i denies, the cells already taken from limits 0..i-1 are
// given back (if the store is a Refunder; both stores here are), so a
// request denied by, say, the per-second limit does not use up the daily
// quota. Taking and refunding rather than checking all limits first keeps
// each limit one atomic step (one Redis round trip) on the common path;
// the cost is that a concurrent request may see a cell held for the
// moment between take and refund, erring towards denial.
type Limiter struct {
	limits []Limit
	store  Store
	refund Refunder
	key    KeyFunc
	now    func() time.Time
	policy string   // RateLimit-Policy value, the same on every response
	quoted []string // limit names as Structured Field Strings
}

// New checks limits and builds a Limiter over store. key must not be nil.
func New(limits []Limit, store Store, key KeyFunc, opts Options) (*Limiter, error) {
	if len(limits) == 0 {
		return nil, errors.New("ratelimit: no limits")
	}
	if store == nil || key == nil {
		return nil, errors.New("ratelimit: store and key func are required")
	}
	seen := make(map[string]bool, len(limits))
	var errs []error
	for _, l := range limits {
		if err := l.Validate(); err != nil {
			errs = append(errs, err)
		}
		if seen[l.Name] {
			errs = append(errs, fmt.Errorf("ratelimit: limit %q given twice", l.Name))
		}
		seen[l.Name] = true
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	lm := &Limiter{limits: append([]Limit(nil), limits...), store: store, key: key, now: opts.Now}
	lm.refund, _ = store.(Refunder)
	if lm.now == nil {
		lm.now = time.Now
	}
	lm.policy = policyHeader(lm.limits)
	for _, l := range lm.limits {
		lm.quoted = append(lm.quoted, sfString(l.Name))
	}
	return lm, nil
}

// Check decides r. It returns true when the request may go on, with the
// RateLimit-Policy and RateLimit fields set on w's header. Otherwise it
// has written the response: 429 with Retry-After and the fields when a
// limit is exhausted, 503 when the store could not decide (fail-closed
// RedisStore). It blocks as long as the store does.
func (lm *Limiter) Check(w http.ResponseWriter, r *http.Request) bool {
	key, ok := lm.key(r)
	if !ok {
		return true
	}
	now := lm.now()
	var buf [4]Result
	taken := buf[:0]
	best, bestT := -1, time.Duration(0)
	for i, l := range lm.limits {
		res, err := lm.store.Take(r.Context(), key, l, now)
		if err != nil {
			lm.giveBack(r.Context(), key, taken)
			l7.WriteError(w, r, l7.Wrap(err, http.StatusServiceUnavailable, l7.CodeUnavailable, "rate limit unavailable"))
			return false
		}
		if !res.Allowed {
			lm.giveBack(r.Context(), key, taken)
			lm.deny(w, r, i, res)
			return false
		}
		taken = append(taken, res)
		if res.FailedOpen {
			continue
		}
		t := nextCell(l, res)
		if best < 0 || res.Remaining < taken[best].Remaining ||
			(res.Remaining == taken[best].Remaining && t > bestT) {
			best, bestT = i, t
		}
	}
	h := w.Header()
	h.Set(HeaderPolicy, lm.policy)
	if best >= 0 {
		h.Set(HeaderState, stateHeader(lm.quoted[best], taken[best].Remaining, bestT))
	}
	return true
}

// deny writes the 429 for limit i's denial res.
func (lm *Limiter) deny(w http.ResponseWriter, r *http.Request, i int, res Result) {
	l := lm.limits[i]
	h := w.Header()
	h.Set(HeaderPolicy, lm.policy)
	h.Set(HeaderState, stateHeader(lm.quoted[i], 0, res.RetryAfter))
	h.Set("Retry-After", strconv.FormatInt(ceilSeconds(res.RetryAfter), 10))
	l7.WriteError(w, r, l7.Errorf(http.StatusTooManyRequests, l7.CodeRateLimited,
		"rate limit %q exceeded", l.Name))
}

// giveBack refunds the cells taken for a request that is not going on.
// It runs even if the client has gone, within the store's own timeout.
func (lm *Limiter) giveBack(ctx context.Context, key string, taken []Result) {
	if lm.refund == nil {
		return
	}
	ctx = context.WithoutCancel(ctx)
	for i, res := range taken {
		// A failed refund has been reported by the store; the cell stays
		// taken, which errs towards denial.
		_ = lm.refund.Refund(ctx, key, lm.limits[i], res)
	}
}

// nextCell is how long until more quota is available for an allowed
// result: the draft's "t" (-10 and on: "seconds until additional quota is
// made available"), which for GCRA is the time to the next emitted cell.
func nextCell(l Limit, res Result) time.Duration {
	t := time.Duration(l.interval())
	if next := res.ResetAfter % t; next > 0 {
		return next
	}
	return t
}

// policyHeader lists every limit as `"name";q=<quota>;w=<seconds>`.
func policyHeader(limits []Limit) string {
	var b strings.Builder
	for i, l := range limits {
		if i > 0 {
			b.WriteString(", ")
		}
		q, w := l.window()
		b.WriteString(sfString(l.Name))
		b.WriteString(";q=")
		b.WriteString(strconv.FormatInt(q, 10))
		b.WriteString(";w=")
		b.WriteString(strconv.FormatInt(w, 10))
	}
	return b.String()
}

// stateHeader is one RateLimit item: `"name";r=<remaining>;t=<seconds>`,
// quoted being the name already rendered by sfString.
func stateHeader(quoted string, remaining int64, t time.Duration) string {
	b := make([]byte, 0, len(quoted)+32)
	b = append(b, quoted...)
	b = append(b, ";r="...)
	b = strconv.AppendInt(b, remaining, 10)
	b = append(b, ";t="...)
	b = strconv.AppendInt(b, ceilSeconds(t), 10)
	return string(b)
}

// sfString renders s as a Structured Field String (RFC 9651 §3.3.3):
// quoted, with '"' and '\' escaped. Limit.Validate keeps s printable ASCII.
func sfString(s string) string {
	if !strings.ContainsAny(s, `"\`) {
		return `"` + s + `"`
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

// ceilSeconds rounds d up to whole seconds, at least 1.
func ceilSeconds(d time.Duration) int64 {
	return max(1, int64((d+time.Second-1)/time.Second))
}
