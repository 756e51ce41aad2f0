package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/bouncer-proxy/bouncer/l4/upstream"
	"github.com/bouncer-proxy/bouncer/l7"
)

// failure classifies why a try produced no usable response.
type failure int

const (
	failNone     failure = iota
	failConnect          // the connection could not be made: nothing was sent
	failReset            // the connection broke before response headers
	failTimeout          // per-try or total timeout before response headers
	failCircuit          // max_connections reached: shed, not the endpoint's fault
	failCanceled         // the client went away
	failTooLarge         // the client's body passed max_request_body_bytes: not the endpoint's fault
)

// tryResult is one attempt: a response, or why there is none.
type tryResult struct {
	ep       *upstream.Endpoint
	res      *http.Response
	err      error
	fail     failure
	cancel   context.CancelFunc
	start    time.Time
	timedOut atomic.Bool
	info     *l7.Info // the request's record, for the access log (may be nil)
	body     *tryBody // the client's body as this try reads it; nil: none or replayable
}

// noCancel is the cancel of a try without a timeout of its own.
func noCancel() {}

// try sends the request to ep once; *out is the outgoing request, built
// on the first try. On success the caller owns res and must call discard
// or finish; the endpoint's Done is reported when the exchange ends.
// Without a timeout the try runs in the client's context: no timer, no
// context of its own.
func (p *Proxy) try(r *http.Request, out **http.Request, ep *upstream.Endpoint, deadline time.Time) *tryResult {
	t := &tryResult{ep: ep, cancel: noCancel, start: time.Now(), info: l7.InfoFrom(r.Context())}
	limit := p.perTry
	if !deadline.IsZero() {
		if rem := time.Until(deadline); limit == 0 || rem < limit {
			limit = rem
		}
	}
	ctx := r.Context()
	var timer *time.Timer
	if limit > 0 {
		ctx, t.cancel = context.WithCancel(ctx)
		timer = time.AfterFunc(limit, t.expire)
	}
	var req *http.Request
	if *out == nil {
		req = p.outgoing(ctx, r, ep.Address())
		*out = req
	} else {
		req = (*out).WithContext(ctx)
		u := *req.URL
		u.Host = ep.Address()
		req.URL = &u
		if req.GetBody != nil {
			req.Body, _ = req.GetBody()
		} else if b, ok := req.Body.(*tryBody); ok {
			req.Body = b.tb.forTry()
		}
	}
	t.body, _ = req.Body.(*tryBody)
	ep.Start()
	res, err := p.o.Transport.RoundTrip(req)
	if timer != nil && !timer.Stop() {
		t.timedOut.Store(true) // fired while headers arrived: the body is cut anyway
	}
	switch {
	case err == nil && !t.timedOut.Load():
		t.res = res
		return t
	case err == nil:
		_ = res.Body.Close()
		err = context.DeadlineExceeded
	}
	t.err = err
	t.fail = classify(r.Context(), err, t.timedOut.Load())
	t.report(0)
	t.cancel()
	return t
}

// expire ends a try that ran out of time.
func (t *tryResult) expire() {
	t.timedOut.Store(true)
	t.cancel()
}

func classify(clientCtx context.Context, err error, timedOut bool) failure {
	var op *net.OpError
	var tooLarge *http.MaxBytesError
	switch {
	case errors.Is(clientCtx.Err(), context.DeadlineExceeded):
		return failTimeout // a deadline the caller set on the request (Exchange): not a client gone
	case clientCtx.Err() != nil:
		return failCanceled
	case errors.As(err, &tooLarge):
		return failTooLarge
	case timedOut:
		return failTimeout
	case errors.Is(err, errCircuitOpen):
		return failCircuit
	case errors.As(err, &op) && op.Op == "dial":
		return failConnect
	default:
		return failReset
	}
}

// report feeds the endpoint's outcome to health and load tracking.
func (t *tryResult) report(status int) {
	switch t.fail {
	case failConnect:
		t.ep.Done(upstream.Result{ConnectFailure: true})
	case failReset:
		t.ep.Done(upstream.Result{Reset: true})
	case failTimeout:
		t.ep.Done(upstream.Result{Status: http.StatusGatewayTimeout})
	case failNone:
		t.ep.Done(upstream.Result{Status: status})
	default:
		t.ep.Done(upstream.Result{})
	}
}

// retryable reports whether the policy allows another try after t, for
// a request that may be sent again.
func (t *tryResult) retryable(p retryPolicy) bool {
	switch t.fail {
	case failConnect:
		return p.connectFail
	case failReset:
		return p.reset
	case failTimeout:
		return p.statuses[2]
	case failNone:
		return p.statusRetryable(t.res.StatusCode)
	}
	return false
}

// fenceBody is called when t is abandoned for a retry: a body writer
// of t still running can no longer read the client's body. It reports
// false when t already read some of it (the retry must not happen).
func (t *tryResult) fenceBody() bool { return t.body == nil || t.body.fence() }

// discard ends a try whose response will not be used, without waiting
// for its body: see closeBody.
func (t *tryResult) discard() {
	if t.res != nil {
		t.report(t.res.StatusCode)
		closeBody(t.res.Body)
	}
	t.cancel()
}

// closeBody ends a response body that will not be read to its end. It is
// closed, never read: the transports keep the connection when the rest
// is already there (HTTP/1.1 drains a small rest that arrives within a
// few milliseconds, HTTP/2 needs no draining and resets a stream still
// running), so an upstream that stalls mid-body cannot hold the caller
// past its timeout, nor the request slot it holds.
func closeBody(body io.ReadCloser) { _ = body.Close() }

// asError maps a failed try to the gateway's error response.
func (p *Proxy) asError(t *tryResult) *l7.Error {
	switch t.fail {
	case failTimeout:
		return l7.Wrap(t.err, http.StatusGatewayTimeout, l7.CodeTimeout, "upstream "+p.name+" did not answer in time")
	case failTooLarge:
		return l7.Wrap(t.err, http.StatusRequestEntityTooLarge, l7.CodeTooLarge, "request body is too large")
	case failCircuit:
		return l7.Wrap(t.err, http.StatusServiceUnavailable, l7.CodeUnavailable, "upstream "+p.name+" is at its connection limit (circuit open)")
	case failConnect:
		return l7.Wrap(t.err, http.StatusBadGateway, l7.CodeBadGateway, "could not connect to upstream "+p.name)
	default:
		return l7.Wrap(t.err, http.StatusBadGateway, l7.CodeBadGateway, "upstream "+p.name+" closed the connection without a response")
	}
}
