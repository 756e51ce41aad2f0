package traffic

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync/atomic"
	"time"
)

// Mirror defaults.
const (
	DefaultMirrorMaxBody     = 64 << 10
	DefaultMirrorTimeout     = 5 * time.Second
	DefaultMirrorMaxInFlight = 64
)

// ShadowHeader is set to "1" on every mirrored request, so the shadow
// backend (and its logs) can tell copies from real traffic.
const ShadowHeader = "X-Bouncer-Shadow"

// MirrorOptions configure a Mirror.
type MirrorOptions struct {
	// Percent of requests mirrored, 0 to 100 (fractions allowed); each
	// request is sampled independently. 0 mirrors nothing.
	Percent float64
	// MaxBodyBytes is the largest request body mirrored; a request with a
	// bigger body is not mirrored (counted as skipped). Default 64 KiB.
	MaxBodyBytes int64
	// Timeout bounds each shadow request, from when it is sent (for a
	// body of unknown length, when the primary has read all of it).
	// Default 5s.
	Timeout time.Duration
	// MaxInFlight bounds the shadow requests running at once; a request
	// sampled while all are busy is not mirrored (counted as dropped).
	// Default 64.
	MaxInFlight int
	// KeepHost sends the shadow the original Host. By default "-shadow" is
	// appended to the host name (before any port), as Envoy does, so the
	// shadow's logs and virtual hosts can tell the copies apart.
	KeepHost bool
}

// MirrorStats are a Mirror's counters since it was built.
type MirrorStats struct {
	Mirrored uint64 // copies sent to the shadow
	Dropped  uint64 // sampled but MaxInFlight copies were running
	Skipped  uint64 // sampled but the body was over MaxBodyBytes
	Failed   uint64 // copies that got a 5xx, timed out, panicked, or whose body could not be read
}

// Mirror sends a copy of sampled requests to a shadow handler in the
// background and discards the shadow's answer. It never delays or alters
// the primary response; only the request body is read ahead (once, up to
// MaxBodyBytes) so both sides can have it. Safe for concurrent use.
type Mirror struct {
	percent  float64
	maxBody  int64
	timeout  time.Duration
	keepHost bool
	shadow   http.Handler
	slots    chan struct{} // one token per shadow request in flight

	mirrored, dropped, skipped, failed atomic.Uint64
}

// NewMirror checks opts, applies the defaults and returns a Mirror that
// copies requests to shadow.
func NewMirror(opts MirrorOptions, shadow http.Handler) (*Mirror, error) {
	if shadow == nil {
		return nil, errors.New("mirror: shadow handler is nil")
	}
	if !(opts.Percent >= 0 && opts.Percent <= 100) {
		return nil, fmt.Errorf("mirror: percent %v is outside 0..100", opts.Percent)
	}
	if opts.MaxBodyBytes < 0 || opts.Timeout < 0 || opts.MaxInFlight < 0 {
		return nil, errors.New("mirror: max_body_bytes, timeout and max_in_flight must not be negative")
	}
	m := &Mirror{
		percent: opts.Percent, maxBody: opts.MaxBodyBytes, timeout: opts.Timeout,
		keepHost: opts.KeepHost, shadow: shadow,
	}
	if m.maxBody == 0 {
		m.maxBody = DefaultMirrorMaxBody
	}
	if m.timeout == 0 {
		m.timeout = DefaultMirrorTimeout
	}
	n := opts.MaxInFlight
	if n == 0 {
		n = DefaultMirrorMaxInFlight
	}
	m.slots = make(chan struct{}, n)
	return m, nil
}

// Wrap returns a handler that mirrors sampled requests and then calls next
// with the request (its body, if read ahead, replayed from memory).
func (m *Mirror) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, tb := m.tee(r)
		if tb != nil {
			defer tb.finish() // a body the primary left unread sends no copy
		}
		next.ServeHTTP(w, p)
	})
}

// Stats returns the counters.
func (m *Mirror) Stats() MirrorStats {
	return MirrorStats{
		Mirrored: m.mirrored.Load(), Dropped: m.dropped.Load(),
		Skipped: m.skipped.Load(), Failed: m.failed.Load(),
	}
}

// Drain blocks until no shadow request is in flight or ctx ends; requests
// sampled meanwhile are dropped. For shutdown and for retiring a Mirror
// after a reload. It returns ctx's error if ctx ends first.
func (m *Mirror) Drain(ctx context.Context) error {
	held := 0
	defer func() {
		for ; held > 0; held-- {
			<-m.slots
		}
	}()
	for held < cap(m.slots) {
		select {
		case m.slots <- struct{}{}:
			held++
		case <-ctx.Done():
			return fmt.Errorf("mirror: drain: %w", ctx.Err())
		}
	}
	return nil
}

// tee starts the shadow copy of a sampled r and returns the request the
// primary serves. It runs on the request's goroutine, before the primary
// handler can change r. A body of known length (at most MaxBodyBytes) is
// read ahead and the copy starts now; a body of unknown length (chunked,
// an HTTP/2 or gRPC stream) is never read ahead, since its client may
// wait for the answer before it sends the rest: it is copied as the
// primary reads it, and the copy starts at its end (the returned teeBody,
// whose finish the caller defers).
func (m *Mirror) tee(r *http.Request) (*http.Request, *teeBody) {
	if m.percent <= 0 || (m.percent < 100 && rand.Float64()*100 >= m.percent) {
		return r, nil
	}
	if r.ContentLength > m.maxBody {
		m.skipped.Add(1)
		return r, nil
	}
	select {
	case m.slots <- struct{}{}:
	default:
		m.dropped.Add(1)
		return r, nil
	}
	if r.ContentLength < 0 && r.Body != nil && r.Body != http.NoBody {
		tb := &teeBody{src: r.Body, m: m, shadow: m.shadowRequest(r)}
		p := new(http.Request)
		*p = *r
		p.Body = tb
		return p, tb
	}
	body, primary, err := readAhead(r, m.maxBody)
	if err != nil {
		<-m.slots
		if errors.Is(err, errBodyTooLarge) {
			m.skipped.Add(1)
		} else {
			m.failed.Add(1)
		}
		return primary, nil
	}
	m.launch(m.shadowRequest(r), body)
	return primary, nil
}

// launch sends the shadow copy s with body on its own goroutine, under
// the mirror's timeout from now. The caller holds a slot, which send
// releases.
func (m *Mirror) launch(s *http.Request, body []byte) {
	if body != nil {
		s.Body = io.NopCloser(bytes.NewReader(body))
		s.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		s.ContentLength = int64(len(body))
	}
	ctx, cancel := context.WithTimeout(s.Context(), m.timeout)
	m.mirrored.Add(1)
	go m.send(s.WithContext(ctx), cancel)
}

// send runs the shadow request on its own goroutine and counts a failure.
// The slot is released last so Drain sees the counters final.
func (m *Mirror) send(r *http.Request, cancel context.CancelFunc) {
	defer func() { <-m.slots }()
	defer cancel()
	var w discardWriter
	if !serveRecover(m.shadow, &w, r) || w.status >= 500 || r.Context().Err() != nil {
		m.failed.Add(1)
	}
}

// serveRecover calls h and reports false if it panicked (a shadow's panic,
// including http.ErrAbortHandler, must not kill the process).
func serveRecover(h http.Handler, w http.ResponseWriter, r *http.Request) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	h.ServeHTTP(w, r)
	return true
}
