package aggregate

import (
	"sync"
	"time"
)

// DefaultBreakerCooldown is how long an open breaker fails fast by default.
const DefaultBreakerCooldown = 10 * time.Second

// outcome is what a call's end tells its breaker.
type outcome uint8

const (
	outcomeSuccess outcome = iota
	outcomeFailure
	outcomeNeutral // the client left or the answer was already decided
)

// breaker is one call's consecutive-failure circuit breaker: closed,
// open (fail fast until a time), then half-open (one trial call). A mutex
// guards it: it is touched twice per call, never across I/O, so the
// simplest correct form wins over an atomic state machine.
type breaker struct {
	threshold int
	cooldown  time.Duration
	now       func() time.Time

	mu        sync.Mutex
	failures  int       // consecutive, while closed
	openUntil time.Time // zero while closed
	trial     bool      // the half-open trial is in flight
}

func newBreaker(threshold int, cooldown time.Duration, now func() time.Time) *breaker {
	if cooldown == 0 {
		cooldown = DefaultBreakerCooldown
	}
	if now == nil {
		now = time.Now
	}
	return &breaker{threshold: threshold, cooldown: cooldown, now: now}
}

// allow reports whether a call may go ahead; trial says it is the one try
// of a half-open breaker, whose end must be reported with trial set.
func (b *breaker) allow() (ok, trial bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.openUntil.IsZero():
		return true, false
	case b.now().Before(b.openUntil) || b.trial:
		return false, false
	}
	b.trial = true
	return true, true
}

// done records how an allowed call ended.
func (b *breaker) done(o outcome, trial bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if trial {
		b.trial = false
	}
	switch o {
	case outcomeSuccess:
		b.failures, b.openUntil = 0, time.Time{}
	case outcomeFailure:
		if trial || !b.openUntil.IsZero() {
			b.openUntil = b.now().Add(b.cooldown)
			return
		}
		if b.failures++; b.failures >= b.threshold {
			b.failures, b.openUntil = 0, b.now().Add(b.cooldown)
		}
	}
}
