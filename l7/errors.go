// Package l7 is Bouncer's HTTP layer: the request handler that matches
// routes and runs their actions, the servers for HTTP/1.1, h2 and h2c, and
// the one error type every gateway-made response goes through.
package l7

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/bouncer-proxy/bouncer/tls/mtls"
)

// Error is the one request-time error type: an HTTP status, a stable
// machine-readable code and a message safe to show to clients. Gateway-made
// error responses are rendered from it by WriteError, never from upstream
// bodies, so internals of upstreams do not leak.
type Error struct {
	Status  int
	Code    string
	Message string
	cause   error // logged, never sent
}

func (e *Error) Error() string {
	if e.cause != nil {
		return fmt.Sprintf("%d %s: %s: %v", e.Status, e.Code, e.Message, e.cause)
	}
	return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.cause }

// Errorf makes an Error with a formatted message.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap makes an Error that keeps cause for logs only.
func Wrap(cause error, status int, code, msg string) *Error {
	return &Error{Status: status, Code: code, Message: msg, cause: cause}
}

// Common codes, one per status class the gateway produces.
const (
	CodeBadRequest  = "BAD_REQUEST"
	CodeNotFound    = "NOT_FOUND"
	CodeTooLarge    = "PAYLOAD_TOO_LARGE"
	CodeBadGateway  = "BAD_GATEWAY"
	CodeUnavailable = "UNAVAILABLE"
	CodeTimeout     = "GATEWAY_TIMEOUT"
	CodeInternal    = "INTERNAL"
	CodeMisdirected = "MISDIRECTED_REQUEST"
	CodeForbidden   = "FORBIDDEN"
	// CodeUnauthenticated: missing or bad credentials (401).
	CodeUnauthenticated = "UNAUTHENTICATED"
	// CodeRateLimited: a rate limit or quota is exhausted (429).
	CodeRateLimited = "RATE_LIMITED"
)

type errorBody struct {
	Error errorJSON `json:"error"`
}

type errorJSON struct {
	Status    int    `json:"status"`
	Code      string `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"request_id,omitempty"`
}

// WriteError renders err as the JSON error body. An error that is not an
// *Error becomes a 500 whose message says nothing of its cause.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = Wrap(err, http.StatusInternalServerError, CodeInternal, "internal error")
	}
	rid := RequestIDFrom(r.Context())
	body, _ := json.Marshal(errorBody{errorJSON{e.Status, e.Code, e.Message, rid}})
	body = append(body, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-store")
	h.Del("Content-Encoding")
	if info := InfoFrom(r.Context()); info != nil {
		info.Err = e
	}
	w.WriteHeader(e.Status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// Info is the per-request record that the access log and metrics read
// after the handler returns. Handlers fill what they learn.
type Info struct {
	Route     string
	Upstream  string
	Endpoint  string
	RequestID string
	Client    netip.Addr // the original client (see Trusted.ClientAddr)
	Tries     int
	// UpstreamTime is the time spent on upstream tries, to the end of
	// the response body.
	UpstreamTime time.Duration
	Status       int // set by handlers that answer outside the ResponseWriter (protocol upgrades)
	Err          *Error
	// ClientCert is the verified client certificate's identity, on a
	// listener with tls.client_auth; nil without one. For policies and
	// the access log.
	ClientCert *mtls.Identity
	// Identity is set by the route's authentication policy; nil on
	// routes without one and before it runs.
	Identity *Identity
}

type infoKey struct{}
type requestIDKey struct{}

// WithInfo returns ctx carrying info.
func WithInfo(ctx context.Context, info *Info) context.Context {
	return context.WithValue(ctx, infoKey{}, info)
}

// InfoFrom returns the request's Info, or nil.
func InfoFrom(ctx context.Context) *Info {
	i, _ := ctx.Value(infoKey{}).(*Info)
	return i
}

// RequestIDFrom returns the request id recorded in ctx.
func RequestIDFrom(ctx context.Context) string {
	if i := InfoFrom(ctx); i != nil {
		return i.RequestID
	}
	return ""
}
