package credauth

import (
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/bouncer-proxy/bouncer/l7"
)

// fakeClock is a settable time source for cache expiry tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Now()} }

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// asAuthError fails the test unless err is an *l7.AuthError.
func asAuthError(t *testing.T, err error) *l7.AuthError {
	t.Helper()
	var ae *l7.AuthError
	if !errors.As(err, &ae) {
		t.Fatalf("error = %v (%T), want *l7.AuthError", err, err)
	}
	return ae
}

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		runtime.Gosched()
	}
}
