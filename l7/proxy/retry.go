package proxy

import (
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/bouncer-proxy/bouncer/configs"
)

// retryPolicy is a route's compiled retry settings.
type retryPolicy struct {
	attempts    int
	connectFail bool
	reset       bool
	statuses    [3]bool // 502, 503, 504
	methods     map[string]bool
	base        time.Duration
}

// defaultRetry is used when a route sets no retry: one retry of idempotent
// methods when the connection could not be made (nothing reached the
// upstream, so even then it is safe).
var defaultRetry = configs.Retry{
	Attempts: 1,
	RetryOn:  []string{"connect-failure"},
	Methods:  []string{"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"},
	Backoff:  configs.Duration(25 * time.Millisecond),
}

func newRetryPolicy(r *configs.Retry) retryPolicy {
	if r == nil {
		r = &defaultRetry
	}
	p := retryPolicy{attempts: r.Attempts, methods: map[string]bool{}, base: r.Backoff.D()}
	for _, on := range r.RetryOn {
		switch on {
		case "connect-failure":
			p.connectFail = true
		case "reset":
			p.reset = true
		case "502":
			p.statuses[0] = true
		case "503":
			p.statuses[1] = true
		case "504":
			p.statuses[2] = true
		}
	}
	for _, m := range r.Methods {
		p.methods[m] = true
	}
	return p
}

// backoff returns the pause before retry n (0-based): full jitter over an
// exponentially growing window, capped at 1s.
func (p retryPolicy) backoff(n int) time.Duration {
	if p.base <= 0 {
		return 0
	}
	w := p.base << min(n, 5)
	if w > time.Second {
		w = time.Second
	}
	return time.Duration(rand.Int64N(int64(w)) + 1)
}

// statusRetryable reports whether a response status is retried.
func (p retryPolicy) statusRetryable(code int) bool {
	switch code {
	case http.StatusBadGateway:
		return p.statuses[0]
	case http.StatusServiceUnavailable:
		return p.statuses[1]
	case http.StatusGatewayTimeout:
		return p.statuses[2]
	}
	return false
}
