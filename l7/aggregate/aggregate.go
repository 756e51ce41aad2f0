// Package aggregate is the terminal that answers one client request with a
// JSON object composed from several backend calls. Each call is handed to
// an http.Handler of the gateway (the proxy terminal of an upstream, a
// transcoding handler), so the package never dials anything itself.
//
// # Templates
//
// A call's Path, Query values, Header values and Body are templates,
// compiled by New. A placeholder is a dotted name in braces:
//
//	{path.id}                  a route variable (Options.PathVars, else r.PathValue)
//	{query.page}               the client's query parameter
//	{header.X-Tenant}          the client's request header
//	{identity.consumer}        l7.Identity.Consumer; also .subject and .method
//	{identity.claims.org.id}   a (nested) claim of the caller's token
//	{identity.metadata.plan}   the consumer's configured metadata
//	{calls.user.status}        an earlier call's response status
//	{calls.user.body.a.b}      a field of an earlier call's JSON result
//	                           ({calls.user.body} is the whole result; a
//	                           numeric segment indexes an array: items.0.id)
//	{calls.user.header.ETag}   an earlier call's response header
//
// A calls.* placeholder makes the call depend on the named one. Values are
// path-escaped in Path (a value of "." or ".." fails the call, so a value
// can never climb out of the path), query-escaped in Query, stripped of
// control characters in headers, and JSON-encoded in Body: outside a JSON
// string the whole value is inserted as JSON (a string quoted, a number or
// object as is); inside a JSON string it is escaped as string content. In
// Path, Query and Header templates every '{' starts a placeholder. In Body a
// '{' starts one outside strings when a letter follows it (JSON objects
// start with '"' or '}') and inside strings when a name and a dot follow.
//
// A client-side value that is absent (no such query parameter, header,
// route variable or identity) renders as the empty string, or as null
// outside a Body string; a query parameter or header whose value renders
// empty is not sent. A calls.* value that is absent fails the call: the
// dependency answered something other than what the route expects.
//
// # Sub-requests
//
// Each sub-request carries the client request's context values, so the
// proxy and access log see the route, request id, client address and
// identity. It gets a copy of the request's l7.Info (parallel calls do not
// share one) whose tries, upstream time and upstream name are added back
// to the client's Info when the response is written. Headers sent: only
// those the call's templates set, the request id header, and the
// identity's Forward headers (the gateway's own additions, which the
// authentication policy meant for upstreams). The client's body is never
// read. Each sub-request writes into its own bounded recorder; the
// client's ResponseWriter is written once, by ServeHTTP.
//
// Targets must return when the sub-request's context ends, as the proxy
// and transcoding terminals do; the whole-request Timeout is enforced even
// when one does not (the late result is dropped).
//
// # Response
//
// A call succeeds on a 2xx status. Its result is its JSON body (trimmed to
// Fields), a JSON string when the body is not JSON (Content-Type not JSON,
// or absent and the body not valid JSON), or null when empty. In "keys"
// mode each result is under its call's name, in call order; in "merge"
// mode the top-level fields of every object result are merged in call
// order, later calls winning (a non-object result goes under its call's
// name), and the keys are sorted.
//
// Failed calls are listed under the reserved key "_errors", an object
// from call name to {"status": int, "message": string}; status is the
// backend's non-2xx status, 502 for a bad or oversized answer, 503 for an
// open circuit, 504 for a timeout, 424 for a call skipped because a
// dependency failed. With OnError "fail" (the default) any failure of a
// non-optional call makes the whole answer an l7 JSON error naming it (504
// if it timed out, else 502) and cancels the calls still running; with
// "partial" the answer is 200 with what succeeded plus "_errors". Optional
// calls never fail the whole; their failures appear in "_errors" in both
// modes.
package aggregate

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/bouncer-proxy/bouncer/l7"
)

// Targets are the handlers calls are dispatched to, by target name. The
// lead wires them: a proxy terminal per upstream, transcoding handlers.
type Targets map[string]http.Handler

// Call is one backend call of an aggregate route.
type Call struct {
	// Name identifies the call in the response, in "_errors" and in
	// calls.* placeholders: letters, digits, '_' and '-', not starting
	// with '_'. Required and unique.
	Name string
	// Target names the handler in Targets. Required.
	Target string
	// Method of the sub-request; default GET.
	Method string
	// Path is the sub-request's path template: it starts with '/', holds
	// no '?' (put parameters in Query) and its literal text must already
	// be a valid escaped path. Required.
	Path string
	// Query are query parameters: literal names, template values. They are
	// sent sorted by name.
	Query map[string]string
	// Headers are request headers: literal names, template values.
	Headers map[string]string
	// Body is an optional JSON template sent with Content-Type
	// application/json (unless Headers sets one). New checks it is JSON.
	Body string
	// After names calls this one waits for, beyond those its templates
	// reference.
	After []string
	// Timeout bounds the call, its retries included; 0: only the whole
	// request's Timeout applies.
	Timeout time.Duration
	// Retries is how many times a 5xx answer is retried at once (the proxy
	// terminal has its own back-off and endpoint retries; these are for
	// targets without them). Only GET, HEAD, OPTIONS, PUT and DELETE are
	// retried unless RetryUnsafe is set.
	Retries     int
	RetryUnsafe bool
	// Optional calls never fail the whole response; their failure shows in
	// "_errors" only.
	Optional bool
	// Fields keeps only these top-level or dotted fields ("id",
	// "address.city") of an object result, or of every object in an array
	// result. Placeholders of later calls still see the whole result.
	Fields []string
}

// Merge modes.
const (
	MergeKeys  = "keys"  // each result under its call's name (default)
	MergeMerge = "merge" // top-level fields of all results merged
)

// Error modes.
const (
	OnErrorFail    = "fail"    // a required call's failure fails the whole (default)
	OnErrorPartial = "partial" // 200 with what succeeded plus "_errors"
)

// ErrorsKey is the reserved response key listing failed calls.
const ErrorsKey = "_errors"

// DefaultMaxResponseBytes bounds each call's response body by default.
const DefaultMaxResponseBytes = 1 << 20

// Options configure an aggregate route. Durations of 0 mean "none".
type Options struct {
	// Calls in declaration order, which is also the order of results.
	// At least one.
	Calls []Call
	// Merge is MergeKeys (default) or MergeMerge.
	Merge string
	// OnError is OnErrorFail (default) or OnErrorPartial.
	OnError string
	// Timeout bounds the whole request; calls unfinished by then fail.
	Timeout time.Duration
	// MaxResponseBytes bounds each call's response body; a larger one
	// fails that call. Default DefaultMaxResponseBytes.
	MaxResponseBytes int
	// BreakerThreshold > 0 gives each call a circuit breaker that opens
	// after that many consecutive failures (5xx, timeouts, bad answers;
	// not 4xx, not skips): while open the call fails fast with 503 for
	// BreakerCooldown (default 10s), then one trial is let through, whose
	// success closes the breaker and whose failure reopens it.
	BreakerThreshold int
	BreakerCooldown  time.Duration
	// PathVars returns the route's template variables; nil uses
	// r.PathValue. Called once per request when a template uses path.*.
	PathVars func(*http.Request) map[string]string
	// RequestIDHeader is the header carrying the request id to backends;
	// default X-Request-Id. The id is l7.RequestIDFrom, else the client's.
	RequestIDHeader string
	// Observe, if set, is called once per attempted call when it ends,
	// with its status (504 timeout, 503 circuit open, 502 bad answer) and
	// duration, from the call's goroutine. Skipped calls are not observed.
	Observe func(call string, status int, d time.Duration)
	// Now is the breaker's clock; default time.Now. For tests.
	Now func() time.Time
	// Previous is this route's Aggregator under the config before (a
	// reload), if any: a call with the same name, target and breaker
	// settings keeps its breaker, open or closed, so a reload does not
	// send traffic again to a backend its breaker is keeping away.
	Previous *Aggregator
}

// Aggregator is a compiled aggregate route: an http.Handler, immutable
// apart from its breakers, safe for concurrent use. A new Aggregator
// takes over the breakers of Options.Previous that still apply; the
// others start closed.
type Aggregator struct {
	calls     []*plan // in declaration order
	roots     []int   // calls without dependencies
	merge     bool
	partial   bool
	timeout   time.Duration
	maxBytes  int
	ridHeader string
	pathVars  func(*http.Request) map[string]string
	observe   func(string, int, time.Duration)
	usesQuery bool // some template reads query.*: parse the query once
	usesPath  bool // some template reads path.*
}

var _ http.Handler = (*Aggregator)(nil)

// New validates and compiles opts against targets. Errors name the call,
// the field and, for templates, the byte position.
func New(opts Options, targets Targets) (*Aggregator, error) {
	a := &Aggregator{
		merge:     opts.Merge == MergeMerge,
		partial:   opts.OnError == OnErrorPartial,
		timeout:   opts.Timeout,
		maxBytes:  opts.MaxResponseBytes,
		ridHeader: http.CanonicalHeaderKey(opts.RequestIDHeader),
		pathVars:  opts.PathVars,
		observe:   opts.Observe,
	}
	if err := a.checkOptions(opts); err != nil {
		return nil, err
	}
	if a.maxBytes == 0 {
		a.maxBytes = DefaultMaxResponseBytes
	}
	if a.ridHeader == "" {
		a.ridHeader = "X-Request-Id"
	}
	if err := a.compile(opts, targets); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *Aggregator) checkOptions(opts Options) error {
	switch opts.Merge {
	case "", MergeKeys, MergeMerge:
	default:
		return fmt.Errorf("aggregate: merge %q: want %q or %q", opts.Merge, MergeKeys, MergeMerge)
	}
	switch opts.OnError {
	case "", OnErrorFail, OnErrorPartial:
	default:
		return fmt.Errorf("aggregate: on_error %q: want %q or %q", opts.OnError, OnErrorFail, OnErrorPartial)
	}
	switch {
	case len(opts.Calls) == 0:
		return fmt.Errorf("aggregate: no calls")
	case opts.Timeout < 0:
		return fmt.Errorf("aggregate: negative timeout %s", opts.Timeout)
	case opts.MaxResponseBytes < 0:
		return fmt.Errorf("aggregate: negative max_response_bytes %d", opts.MaxResponseBytes)
	case opts.BreakerThreshold < 0 || opts.BreakerCooldown < 0:
		return fmt.Errorf("aggregate: negative breaker threshold or cooldown")
	}
	return nil
}

// ServeHTTP runs the calls and writes the composed answer once. It blocks
// until every call has ended or the answer is decided (a required call
// failed in "fail" mode, or the Timeout passed); calls still running are
// then cancelled and their results dropped. When the client has gone (its
// context cancelled, not past a deadline), nothing is written.
func (a *Aggregator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	if a.timeout > 0 {
		var stop context.CancelFunc
		ctx, stop = context.WithTimeout(ctx, a.timeout)
		defer stop()
	}
	s := newRun(a, r, ctx)
	failed := s.schedule()
	cancel()
	s.foldInfo()
	if errors.Is(r.Context().Err(), context.Canceled) {
		return // the client went away: nobody to answer
	}
	if failed >= 0 {
		writeFailure(w, r, a.calls[failed].name, s.results[failed])
		return
	}
	a.writeResults(w, r, s.results)
}

func writeFailure(w http.ResponseWriter, r *http.Request, name string, res *result) {
	status, code := http.StatusBadGateway, l7.CodeBadGateway
	if res.status == http.StatusGatewayTimeout {
		status, code = http.StatusGatewayTimeout, l7.CodeTimeout
	}
	l7.WriteError(w, r, l7.Errorf(status, code, "aggregate call %s failed: %s", name, res.message))
}
