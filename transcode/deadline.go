package transcode

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"

	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
)

// deadlineSlack is how close to its deadline a call that broke off counts
// as timed out (timers run late on a busy machine).
const deadlineSlack = 50 * time.Millisecond

// noTimeout is what a grpc-timeout too large for a time.Duration decodes
// to: no bound at all.
const noTimeout = time.Duration(math.MaxInt64)

// errCallEnded cancels a call's context once its answer is written, so
// the upstream stream stops and Done never waits on an open body.
var errCallEnded = errors.New("transcode: the call has ended")

// call is the context of one upstream call: the client's, cancelled when
// the call ends, when its deadline passes, when a WebSocket client leaves,
// or when the client's request stream turns out bad (then the cause is
// the *inputError).
type call struct {
	ctx     context.Context
	cancel  context.CancelCauseFunc
	stop    context.CancelFunc // releases the deadline's timer
	timeout time.Duration      // sent upstream as grpc-timeout; 0: none
}

// newCall starts the context of a call on r that may last timeout (0:
// no deadline of its own).
func newCall(r *http.Request, timeout time.Duration) *call {
	c := &call{timeout: timeout, stop: func() {}}
	c.ctx, c.cancel = context.WithCancelCause(r.Context())
	if timeout > 0 {
		c.ctx, c.stop = context.WithTimeout(c.ctx, timeout)
	}
	return c
}

// end cancels the call: its upstream stream stops. Safe to call more than once.
func (c *call) end() {
	c.cancel(errCallEnded)
	c.stop()
}

// fail ends the call for a failure on the client's side, err its cause
// (an *inputError for a bad request stream): called before the upstream
// body breaks, so the proxy takes the break for a cancelled call, not an
// upstream failure.
func (c *call) fail(err error) {
	c.cancel(err)
}

// callEnded says why a call whose upstream exchange broke off ended on
// Bouncer's side, from its context: the client's bad request stream (its
// 400 or 413), the call's deadline (504; also a moment before it, since
// the upstream saw it as grpc-timeout and may reset first), or the client
// gone (499). ok is false when none of these: the upstream broke off.
func callEnded(ctx context.Context) (st *status.Status, httpStatus int, ok bool) {
	var ie *inputError
	switch {
	case errors.As(context.Cause(ctx), &ie):
		return ie.rpcStatus(), ie.status, true
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || ctx.Err() == nil && deadlineNear(ctx):
		return &status.Status{Code: int32(codes.DeadlineExceeded), Message: "the call did not finish within its deadline"}, http.StatusGatewayTimeout, true
	case ctx.Err() != nil:
		return &status.Status{Code: int32(codes.Canceled), Message: "client went away"}, 499, true
	}
	return nil, 0, false
}

func deadlineNear(ctx context.Context) bool {
	dl, ok := ctx.Deadline()
	return ok && time.Until(dl) < deadlineSlack
}

// callDeadline is how long the whole call may last: the deadline for
// unary calls; for streaming ones only a client's own Grpc-Timeout (a
// stream may last as long as its client wants; the route's timeout still
// bounds the wait for its response headers). ok with a zero d: the
// deadline has already passed (a client's zero Grpc-Timeout).
func (h *Handler) callDeadline(r *http.Request, b *binding) (d time.Duration, ok bool) {
	if b.method.IsStreamingClient() || b.method.IsStreamingServer() {
		return clientTimeout(r)
	}
	return h.deadline(r)
}

// deadline is a unary call's timeout: the route's, shortened by a
// client's Grpc-Timeout header, which can never lengthen or remove it.
func (h *Handler) deadline(r *http.Request) (time.Duration, bool) {
	d := h.cfg.Timeout.D()
	ok := d > 0
	if c, set := clientTimeout(r); set && (!ok || c < d) {
		d, ok = c, true
	}
	return d, ok
}

// clientTimeout is the client's Grpc-Timeout. One that is malformed, or
// too large to represent, shortens nothing: set is false. "0S" is set,
// with a zero d: the deadline has passed, as gRPC takes it.
func clientTimeout(r *http.Request) (d time.Duration, set bool) {
	v := r.Header.Get("Grpc-Timeout")
	if v == "" {
		return 0, false
	}
	d, ok := decodeTimeout(v)
	if !ok || d == noTimeout {
		return 0, false
	}
	return d, true
}

// timeoutUnits are grpc-timeout's units, smallest first.
var timeoutUnits = [...]struct {
	suffix byte
	size   time.Duration
}{{'n', time.Nanosecond}, {'u', time.Microsecond}, {'m', time.Millisecond}, {'S', time.Second}, {'M', time.Minute}, {'H', time.Hour}}

// encodeTimeout writes d as a grpc-timeout value (at most 8 digits),
// rounded up.
func encodeTimeout(d time.Duration) string {
	if d <= 0 {
		return "1n"
	}
	for _, u := range timeoutUnits {
		v := d / u.size
		if d%u.size != 0 {
			v++
		}
		if v < 1e8 {
			return strconv.FormatInt(int64(v), 10) + string(u.suffix)
		}
	}
	return "99999999H"
}

// decodeTimeout reads a grpc-timeout value: 1 to 8 ASCII digits and a
// unit. A value past time.Duration's range is noTimeout.
func decodeTimeout(s string) (time.Duration, bool) {
	if len(s) < 2 || len(s) > 9 {
		return 0, false
	}
	var v int64
	for i := 0; i < len(s)-1; i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		v = v*10 + int64(s[i]-'0')
	}
	for _, u := range timeoutUnits {
		if u.suffix == s[len(s)-1] {
			if v > int64(noTimeout/u.size) {
				return noTimeout, true
			}
			return time.Duration(v) * u.size, true
		}
	}
	return 0, false
}
