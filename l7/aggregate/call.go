package aggregate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/bouncer-proxy/bouncer/l7"
)

// prepared is a call's rendered request, the same for each of its tries.
type prepared struct {
	url    *url.URL
	header http.Header
	body   []byte // nil: none
}

// runCall runs call i (its tries, under its timeout and breaker) and
// returns its result. It runs in the call's own goroutine and reads only
// the results of the call's dependencies, all finished before it started.
func (s *run) runCall(i int) *result {
	p := s.a.calls[i]
	start := time.Now()
	res := s.guarded(p)
	if s.a.observe != nil && res.status != 0 {
		s.a.observe(p.name, res.status, time.Since(start))
	}
	return res
}

// guarded renders the request, asks the breaker, runs the tries and
// reports the outcome back.
func (s *run) guarded(p *plan) *result {
	pr, err := s.prepare(p)
	if err != nil {
		status := http.StatusBadRequest // a client value the path refuses
		if errors.Is(err, errMissing) {
			status = http.StatusBadGateway // a dependency answered without it
		}
		return failure(status, "%v", err)
	}
	trial := false
	if p.breaker != nil {
		ok, t := p.breaker.allow()
		if !ok {
			return failure(http.StatusServiceUnavailable, "circuit open")
		}
		trial = t
	}
	ctx, cancel := s.ctx, context.CancelFunc(func() {})
	if p.timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, p.timeout)
	}
	defer cancel()
	res := s.tries(ctx, p, pr)
	o := outcomeSuccess
	if res.failed {
		switch err := ctx.Err(); {
		case errors.Is(err, context.DeadlineExceeded):
			res, o = s.timedOut(p, res.info), outcomeFailure
		case err != nil:
			// Cancelled: the client left or the answer is already decided.
			res, o = failure(0, "cancelled"), outcomeNeutral
		case res.status >= 500:
			o = outcomeFailure
		default:
			o = outcomeNeutral // a 4xx says nothing of the backend's health
		}
	}
	if p.breaker != nil {
		p.breaker.done(o, trial)
	}
	return res
}

func (s *run) timedOut(p *plan, info *l7.Info) *result {
	res := s.a.requestTimeout()
	if s.ctx.Err() == nil {
		res.message = fmt.Sprintf("timed out after %s", p.timeout)
	}
	res.info = info
	return res
}

// tries sends the call's request until it succeeds, fails in a way a
// retry cannot mend, or the retries run out.
func (s *run) tries(ctx context.Context, p *plan, pr *prepared) *result {
	var info *l7.Info
	if s.info != nil {
		c := *s.info
		info = &c
	}
	for try := 0; ; try++ {
		res, retry := s.try(ctx, p, pr, info)
		res.info = info
		if !retry || try >= p.retries || ctx.Err() != nil {
			return res
		}
	}
}

// try sends the request once; retry says a new try might succeed.
func (s *run) try(ctx context.Context, p *plan, pr *prepared, info *l7.Info) (res *result, retry bool) {
	rec := &recorder{header: make(http.Header), max: s.a.maxBytes}
	defer func() {
		// The target runs in this goroutine, outside the server's own
		// recovery: a panic must fail the call, not the process.
		if v := recover(); v != nil {
			res, retry = failure(http.StatusBadGateway, "target failed"), true
			if v == http.ErrAbortHandler {
				res.message = "target aborted the response"
			}
		}
	}()
	if info != nil {
		info.Err = nil
	}
	p.target.ServeHTTP(rec, s.request(ctx, p, pr, info))
	switch status := rec.statusCode(); {
	case rec.overflow:
		return failure(http.StatusBadGateway, "response larger than %d bytes", s.a.maxBytes), false
	case status >= 200 && status < 300:
		return p.accept(rec), false
	case info != nil && info.Err != nil:
		// The target rendered an l7 error: its message is safe to show.
		return failure(status, "%s", info.Err.Message), status >= 500
	default:
		return failure(status, "status %d", status), status >= 500
	}
}

// prepare renders the call's URL, headers and body.
func (s *run) prepare(p *plan) (*prepared, error) {
	path, err := s.vals.renderPath(p.path, s.results)
	if err != nil {
		return nil, err
	}
	u := &url.URL{RawPath: path}
	if u.Path, err = url.PathUnescape(path); err != nil {
		return nil, fmt.Errorf("path: %w", err)
	}
	var q []byte
	for _, qp := range p.query {
		v, err := s.vals.renderText(qp.value, s.results)
		if err != nil || v == "" {
			if err != nil {
				return nil, err
			}
			continue
		}
		if len(q) > 0 {
			q = append(q, '&')
		}
		q = append(q, url.QueryEscape(qp.name)...)
		q = append(q, '=')
		q = append(q, url.QueryEscape(v)...)
	}
	u.RawQuery = string(q)
	pr := &prepared{url: u, header: make(http.Header, len(p.headers)+3)}
	for _, hp := range p.headers {
		v, err := s.vals.renderText(hp.value, s.results)
		if err != nil {
			return nil, err
		}
		if v = headerValue(v); v != "" {
			pr.header[hp.name] = []string{v}
		}
	}
	s.addGatewayHeaders(pr.header)
	if p.body != nil {
		if pr.body, err = s.vals.renderBody(*p.body, s.results); err != nil {
			return nil, err
		}
		if !p.bodyType {
			pr.header.Set("Content-Type", "application/json")
		}
	}
	return pr, nil
}

// addGatewayHeaders sets the request id and the identity's Forward
// headers, which win over the call's templates: they are the gateway's.
func (s *run) addGatewayHeaders(h http.Header) {
	if s.rid != "" {
		h[s.a.ridHeader] = []string{s.rid}
	}
	if id := s.vals.id; id != nil {
		for k, vs := range id.Forward {
			h[k] = append([]string(nil), vs...)
		}
	}
}

// request builds one try's request: fresh headers and body, since a
// target may change them, and the client's connection facts.
func (s *run) request(ctx context.Context, p *plan, pr *prepared, info *l7.Info) *http.Request {
	if info != nil {
		ctx = l7.WithInfo(ctx, info)
	}
	u := *pr.url
	req := &http.Request{
		Method: p.method, URL: &u, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: pr.header.Clone(), Body: http.NoBody, Host: s.req.Host,
		RemoteAddr: s.req.RemoteAddr, TLS: s.req.TLS, RequestURI: u.RequestURI(),
	}
	if pr.body != nil {
		body := pr.body
		req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	return req.WithContext(ctx)
}

// recorder is a sub-request's ResponseWriter: status, headers and at most
// max bytes of body. It belongs to one try and one goroutine.
type recorder struct {
	header   http.Header
	status   int
	buf      []byte
	max      int
	overflow bool
}

// errTooLarge is what a target's Write gets past the bound.
var errTooLarge = errors.New("aggregate: response body over the limit")

var (
	_ http.ResponseWriter = (*recorder)(nil)
	_ http.Flusher        = (*recorder)(nil)
)

func (w *recorder) Header() http.Header { return w.header }

// WriteHeader keeps the first final status; 1xx are dropped.
func (w *recorder) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
}

func (w *recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if len(w.buf)+len(b) > w.max {
		w.overflow = true
		return 0, errTooLarge
	}
	w.buf = append(w.buf, b...)
	return len(b), nil
}

// Flush does nothing: the whole body is read once the target returns.
func (w *recorder) Flush() {}

// statusCode is the recorded status; a target that wrote nothing
// answered 200, as with net/http.
func (w *recorder) statusCode() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}
