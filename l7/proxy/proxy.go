// Package proxy is the terminal reverse proxy: it picks an endpoint of an
// upstream, forwards the request over a pooled transport, retries within
// the route's policy and budget, and streams the response back.
package proxy

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bouncer-proxy/bouncer/configs"
	"github.com/bouncer-proxy/bouncer/l4/upstream"
	"github.com/bouncer-proxy/bouncer/l7"
)

// Options configures one Proxy; all fields are fixed at config load.
type Options struct {
	Cluster   *upstream.Cluster
	Transport http.RoundTripper
	Scheme    string // "http" or "https", from Transports.Get
	Action    configs.ProxyAction
	Trusted   *l7.Trusted
	Metrics   *l7.Metrics // nil: none
	Logger    *slog.Logger
}

// Proxy forwards requests of one route to one upstream. It is immutable
// and safe for concurrent use; build a new one on reload.
type Proxy struct {
	o       Options
	name    string
	retry   retryPolicy
	hashOn  *configs.HashOn
	hashed  bool // the balancer hashes (ring_hash, maglev)
	timeout time.Duration
	perTry  time.Duration
	fwd     l7.Forwarding

	upgradeIdle time.Duration // an upgraded connection quiet this long is closed
}

var _ http.Handler = (*Proxy)(nil)

// New builds a Proxy.
func New(o Options) *Proxy {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	cfg := o.Cluster.Config()
	return &Proxy{
		o:       o,
		name:    o.Cluster.Name(),
		retry:   newRetryPolicy(o.Action.Retry),
		hashOn:  cfg.HashOn,
		hashed:  cfg.Balance == "ring_hash" || cfg.Balance == "maglev",
		timeout: o.Action.Timeout.D(),
		perTry:  o.Action.PerTryTimeout.D(),
		fwd:     forwarding(o.Action.Forwarded),

		upgradeIdle: o.Action.UpgradeIdle.D(),
	}
}

// forwarding is the set of forwarding headers named in the config: every
// one when names is nil (an action built in code; the config's default
// lists them all), none for an empty list.
func forwarding(names []string) l7.Forwarding {
	if names == nil {
		return l7.ForwardedAll
	}
	return l7.ParseForwarding(names)
}

// ServeHTTP forwards r. It blocks until the response has been streamed to
// the client or the client has gone away (which cancels the upstream call).
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	release, ok := p.o.Cluster.AcquireRequest()
	if !ok {
		l7.WriteError(w, r, p.overloaded())
		return
	}
	defer release()
	t, e := p.exchange(r, p.retry.methods[r.Method])
	switch {
	case e != nil:
		l7.WriteError(w, r, e)
	case t != nil:
		p.finish(w, r, t)
	}
}

func (p *Proxy) overloaded() *l7.Error {
	return l7.Errorf(http.StatusServiceUnavailable, l7.CodeUnavailable, "upstream %s is overloaded (circuit open)", p.name)
}

// exchange sends r to endpoints of the upstream, retrying within the
// policy (retryOK: r may be sent again at all), and returns the last try,
// which the caller ends with finish or discard. It returns an error when
// no endpoint can be picked, and neither when the client went away
// during a back-off.
func (p *Proxy) exchange(r *http.Request, retryOK bool) (*tryResult, *l7.Error) {
	info := l7.InfoFrom(r.Context())
	if info != nil {
		info.Upstream = p.name
	}
	hash, hasHash := p.hashKey(r)
	var deadline time.Time
	if p.timeout > 0 {
		deadline = time.Now().Add(p.timeout)
	}
	var out *http.Request          // built by the first try
	var tried []*upstream.Endpoint // grown only on retries
	// A retry counts against the budget until it ends, not only during its
	// back-off, so the budget bounds the retries actually in flight.
	releaseRetry := func() {}
	defer func() { releaseRetry() }()
	for attempt := 0; ; attempt++ {
		ep, err := p.o.Cluster.Pick(hash, hasHash, tried)
		if err != nil {
			return nil, l7.Wrap(err, http.StatusServiceUnavailable, l7.CodeUnavailable, "no healthy endpoint in upstream "+p.name)
		}
		if info != nil {
			info.Endpoint, info.Tries = ep.Address(), attempt+1
		}
		t := p.try(r, &out, ep, deadline)
		if retryOK && t.retryable(p.retry) && attempt < p.retry.attempts && !bodyStarted(out) && !deadlineNear(deadline) {
			releaseRetry()
			releaseRetry = func() {}
			if rel, ok := p.o.Cluster.AcquireRetry(); ok {
				if !t.fenceBody() { // its writer read the body after all
					rel()
					return t, nil
				}
				releaseRetry = rel
				tried = append(tried, ep)
				t.discard()
				if !sleepCtx(r.Context(), p.retry.backoff(attempt)) {
					return nil, nil
				}
				continue
			}
		}
		return t, nil
	}
}

// outgoing prepares the request sent upstream with ctx, to host: built
// once per request, by the first try; later tries send copies.
func (p *Proxy) outgoing(ctx context.Context, r *http.Request, host string) *http.Request {
	out := r.WithContext(ctx) // a shallow copy; the header map is copied below
	// Room for the forwarding headers added below: growing a map past its
	// size class costs more than sizing it once.
	out.Header = make(http.Header, len(r.Header)+6)
	for k, v := range r.Header {
		out.Header[k] = v[:len(v):len(v)] // an append reallocates: r.Header is never written through
	}
	// out.Trailer is r.Trailer itself: the server fills in the values when
	// the client's body ends, and the transport reads them after that.
	u := *r.URL
	out.URL = &u
	out.RequestURI = ""
	out.URL.Scheme = p.o.Scheme
	out.URL.Host = host
	out.Close = false
	reqUpgrade := upgradeType(r.Header)
	removeHopHeaders(out.Header)
	if reqUpgrade != "" {
		out.Header.Set("Connection", "Upgrade")
		out.Header.Set("Upgrade", reqUpgrade)
	}
	// "trailers" in TE is the one TE value that must pass (RFC 9110 10.1.4),
	// gRPC needs it.
	if httpTEHasTrailers(r.Header) {
		out.Header.Set("Te", "trailers")
	}
	if _, ok := out.Header["User-Agent"]; !ok {
		out.Header["User-Agent"] = nil // keep Go from adding its own
	}
	p.o.Trusted.SetForwarded(out.Header, r, l7.PeerAddr(r), p.fwd)
	out.Body = nil
	switch {
	case r.GetBody != nil:
		out.Body, _ = r.GetBody() // a replayable body made by the caller (Exchange)
	case r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0:
		tb := &trackedBody{rc: r.Body}
		tb.first.tb = tb
		out.Body = &tb.first
	}
	return out
}

// bodyStarted reports whether any of out's body was read (then it cannot
// be replayed). A body that GetBody makes anew never counts as started.
func bodyStarted(out *http.Request) bool {
	if out.GetBody != nil {
		return false
	}
	b, ok := out.Body.(*tryBody)
	return ok && b.tb.started()
}

func httpTEHasTrailers(h http.Header) bool {
	for _, v := range h["Te"] {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), "trailers") {
				return true
			}
		}
	}
	return false
}

// hashKey computes the consistent-hash key for ring_hash and maglev.
func (p *Proxy) hashKey(r *http.Request) (uint64, bool) {
	h := p.hashOn
	switch {
	case h == nil:
		if !p.hashed {
			return 0, false
		}
		return upstream.HashKey(p.clientIP(r)), true
	case h.Header != "":
		return upstream.HashKey(r.Header.Get(h.Header)), true
	case h.Cookie != "":
		if c, err := r.Cookie(h.Cookie); err == nil {
			return upstream.HashKey(c.Value), true
		}
		return upstream.HashKey(p.clientIP(r)), true
	case h.SNI && r.TLS != nil && r.TLS.ServerName != "":
		return upstream.HashKey(r.TLS.ServerName), true
	default:
		return upstream.HashKey(p.clientIP(r)), true
	}
}

func (p *Proxy) clientIP(r *http.Request) string {
	if info := l7.InfoFrom(r.Context()); info != nil && info.Client.IsValid() {
		return info.Client.String()
	}
	return p.o.Trusted.ClientAddr(r, l7.PeerAddr(r)).String()
}

// deadlineNear reports whether less than a millisecond of the total budget is left.
func deadlineNear(d time.Time) bool {
	return !d.IsZero() && time.Until(d) < time.Millisecond
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// trackedBody wraps the client's request body, shared by the tries of a
// request, so a retry can tell whether any of it was already sent (then
// it cannot be replayed). Each try reads it through a tryBody of its own.
type trackedBody struct {
	rc    io.ReadCloser
	read  atomic.Bool // set by a transport's body writer
	first tryBody     // the first try's, allocated with it
}

func (b *trackedBody) started() bool { return b.read.Load() }

// forTry returns the body to send on a new try.
func (b *trackedBody) forTry() *tryBody { return &tryBody{tb: b} }

// Try body states (tryBody.state).
const (
	bodyFresh   int32 = iota // nothing read yet
	bodyClaimed              // this try read (or is reading) the client's body
	bodyFenced               // the try was abandoned before it read: no read passes
)

// errBodyFenced fails a read by the body writer of an abandoned try.
var errBodyFenced = errors.New("proxy: request body read by an abandoned try")

// tryBody is one try's view of the client's body. A transport may leave
// the goroutine that writes a request body running after its try failed;
// once the try is abandoned for a retry (fence), that goroutine can no
// longer read, so two tries never read the client's body at once.
type tryBody struct {
	tb    *trackedBody
	state atomic.Int32 // bodyFresh, bodyClaimed or bodyFenced
}

func (b *tryBody) Read(p []byte) (int, error) {
	if b.state.Load() != bodyClaimed && !b.state.CompareAndSwap(bodyFresh, bodyClaimed) {
		return 0, errBodyFenced
	}
	tb := b.tb
	if tb.rc == nil {
		return 0, io.EOF
	}
	tb.read.Store(true)
	return tb.rc.Read(p)
}

// fence stops the try's reads for good. It reports false when the try
// already read: then the body was started and must not be sent again.
func (b *tryBody) fence() bool { return b.state.CompareAndSwap(bodyFresh, bodyFenced) }

// Close is a no-op: the server owns the client body; the transport closing
// it after a failed try must not end a body we may still send on a retry.
func (b *tryBody) Close() error { return nil }

// BufferedComplete passes on the client body's (see bufferedBody).
func (b *tryBody) BufferedComplete() int {
	if bb, ok := b.tb.rc.(bufferedBody); ok {
		return bb.BufferedComplete()
	}
	return -1
}
