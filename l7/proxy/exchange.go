package proxy

import (
	"net/http"

	"github.com/bouncer-proxy/bouncer/l7"
)

// Exchange is one upstream exchange made on behalf of another handler
// (the gRPC transcoder): the request went through the upstream's
// balancing, circuit breaker, timeouts and retries like a proxied one, and
// the caller reads the response itself instead of streaming it to the
// client.
type Exchange struct {
	Res     *http.Response
	p       *Proxy
	t       *tryResult
	release func()
}

// Exchange sends req, a request the caller made for the upstream (method,
// path, headers and body as they should arrive; its context is the
// client's), and returns the response once its head has arrived. A body
// to be sent again on a retry must come with GetBody; retryOK says
// whether a retry is allowed at all (the route's retry policy applies on
// top: see RetriesMethod). The caller must call Done. The error is the gateway error to
// answer with (502, 503, 504, ...); nil with a nil Exchange means the
// client went away.
func (p *Proxy) Exchange(req *http.Request, retryOK bool) (*Exchange, *l7.Error) {
	release, ok := p.o.Cluster.AcquireRequest()
	if !ok {
		return nil, p.overloaded()
	}
	t, e := p.exchange(req, retryOK)
	switch {
	case e != nil:
		release()
		return nil, e
	case t == nil:
		release()
		return nil, nil
	case t.res == nil:
		p.observe(t, 0)
		t.cancel()
		release()
		if t.fail == failCanceled {
			return nil, nil
		}
		return nil, p.asError(t)
	}
	return &Exchange{Res: t.res, p: p, t: t, release: release}, nil
}

// RetriesMethod reports whether the route's retry policy retries requests
// with this HTTP method.
func (p *Proxy) RetriesMethod(method string) bool { return p.retry.methods[method] }

// Done ends the exchange; call it once, on every path. status is the
// outcome in HTTP terms (for a gRPC call, its status mapped to HTTP), fed
// to the endpoint's health and the upstream metrics. Done never waits on
// the upstream: the body is closed, not read (a small rest already there
// still lets an HTTP/1.1 connection be reused), so a response stream
// still open is cut (an HTTP/2 stream is reset) rather than waited for,
// and the upstream request slot is released before Done returns.
func (x *Exchange) Done(status int) {
	x.t.report(status)
	x.p.observe(x.t, status)
	closeBody(x.Res.Body)
	x.t.cancel()
	x.release()
}
