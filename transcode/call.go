package transcode

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/bouncer-proxy/bouncer/l7/proxy"
	"github.com/bouncer-proxy/bouncer/transcode/httprule"
)

// maxResponseMessage bounds one response message read from the upstream.
const maxResponseMessage = 16 << 20

// deadlineSlack is how close to its deadline a call that broke off counts
// as timed out (timers run late on a busy machine).
const deadlineSlack = 50 * time.Millisecond

// serveBinding runs one REST call of binding b.
func (h *Handler) serveBinding(w http.ResponseWriter, r *http.Request, t *table, b *binding, vars []httprule.VarValue) {
	if b.method.IsStreamingClient() && websocket.IsWebSocketUpgrade(r) {
		h.serveWebSocket(w, r, t, b, vars)
		return
	}
	var upstreamBody io.ReadCloser
	var getBody func() (io.ReadCloser, error)
	var length int64 = -1
	if b.method.IsStreamingClient() {
		pr, err := h.streamRequest(r, t, b, vars)
		if err != nil {
			h.writeInputError(w, r, err)
			return
		}
		// However the call ends, the pump reading the client stops.
		defer pr.CloseWithError(io.ErrClosedPipe)
		upstreamBody = io.NopCloser(pr)
	} else {
		if b.body != bodyNone && !b.bodyRaw && !isJSONContentType(r.Header.Get("Content-Type")) {
			writeError(w, r, http.StatusUnsupportedMediaType, "the body must be JSON (application/json)")
			return
		}
		var body []byte
		if b.body != bodyNone {
			var err error
			if body, err = readBody(r, int64(h.cfg.MaxBodyBytes)); err != nil {
				h.writeInputError(w, r, err)
				return
			}
		}
		m, err := h.fillRequest(b, t, r, vars, body)
		if err != nil {
			h.writeInputError(w, r, err)
			return
		}
		raw, err := wire.Marshal(m.Interface())
		if err != nil {
			writeError(w, r, http.StatusBadRequest, "the request cannot be encoded: "+limitText(err.Error(), 200))
			return
		}
		framed := appendFrame(make([]byte, 0, frameHeaderLen+len(raw)), raw)
		upstreamBody = proxy.BytesBody(framed)
		getBody = func() (io.ReadCloser, error) { return proxy.BytesBody(framed), nil }
		length = int64(len(framed))
	}
	req := h.upstreamRequest(r, b, upstreamBody, length)
	req.GetBody = getBody
	var deadline time.Time
	if d, ok := h.callDeadline(r, b); ok {
		deadline = time.Now().Add(d)
		ctx, cancel := context.WithDeadline(r.Context(), deadline)
		defer cancel()
		req = req.WithContext(ctx)
	}
	x, gerr := h.proxy.Exchange(req, b.retryOK && getBody != nil)
	if gerr != nil {
		if gerr.Status == http.StatusBadGateway && !deadline.IsZero() && time.Until(deadline) < deadlineSlack {
			// The upstream saw the same deadline (grpc-timeout) and reset
			// the stream a moment before Bouncer's own timer fired.
			writeError(w, r, http.StatusGatewayTimeout, "the call did not finish within its deadline")
			return
		}
		writeError(w, r, gerr.Status, gerr.Message)
		return
	}
	if x == nil {
		return // the client went away
	}
	httpStatus := h.respond(w, r, t, b, x.Res)
	x.Done(httpStatus)
}

// writeInputError answers a client mistake, or a body read failure.
func (h *Handler) writeInputError(w http.ResponseWriter, r *http.Request, err error) {
	var ie *inputError
	if errors.As(err, &ie) {
		if len(ie.violations) > 0 {
			writeError(w, r, ie.status, ie.msg, &errdetails.BadRequest{FieldViolations: ie.violations})
			return
		}
		if ie.field != "" {
			writeError(w, r, ie.status, ie.msg, fieldViolation(ie.field, ie.msg))
			return
		}
		writeError(w, r, ie.status, ie.msg)
		return
	}
	if r.Context().Err() != nil {
		return
	}
	writeError(w, r, http.StatusBadRequest, "the request body could not be read")
}

// upstreamRequest is the gRPC request for b: POST of the framed messages
// with the call's metadata and deadline.
func (h *Handler) upstreamRequest(r *http.Request, b *binding, body io.ReadCloser, length int64) *http.Request {
	hdr := http.Header{
		"Content-Type": {"application/grpc+proto"},
		"Te":           {"trailers"},
	}
	h.copyMetadata(hdr, r.Header)
	if d, ok := h.callDeadline(r, b); ok {
		hdr.Set("Grpc-Timeout", encodeTimeout(d))
	}
	req := &http.Request{
		Method:        http.MethodPost,
		URL:           &url.URL{Scheme: "http", Path: b.grpcPath},
		Proto:         "HTTP/2.0",
		ProtoMajor:    2,
		Header:        hdr,
		Body:          body,
		ContentLength: length,
		Host:          r.Host,
		RemoteAddr:    r.RemoteAddr,
	}
	return req.WithContext(r.Context())
}

// copyMetadata passes the allowed request headers, and those with the
// metadata prefix (without it), as gRPC metadata. Pseudo and reserved
// gRPC names never pass.
func (h *Handler) copyMetadata(dst, src http.Header) {
	prefix := h.cfg.Metadata.Prefix
	for name, vv := range src {
		key := ""
		switch {
		case prefix != "" && len(name) > len(prefix) && strings.EqualFold(name[:len(prefix)], prefix):
			key = name[len(prefix):]
		case h.allowedHeader(name):
			key = name
		default:
			continue
		}
		lk := strings.ToLower(key)
		if reservedMetadata(lk) {
			continue
		}
		dst[http.CanonicalHeaderKey(lk)] = append(dst[http.CanonicalHeaderKey(lk)], vv...)
	}
}

func (h *Handler) allowedHeader(name string) bool {
	for _, a := range h.cfg.Metadata.Headers {
		if strings.EqualFold(a, name) {
			return true
		}
	}
	return false
}

func reservedMetadata(k string) bool {
	switch k {
	case "content-type", "te", "user-agent", "host", "connection", "content-length", "transfer-encoding":
		return true
	}
	return strings.HasPrefix(k, "grpc-") || strings.HasPrefix(k, ":")
}

// callDeadline is how long the whole call may last: the deadline for
// unary calls; for streaming ones only a client's own Grpc-Timeout (a
// stream may last as long as its client wants; the route's timeout still
// bounds the wait for its response headers).
func (h *Handler) callDeadline(r *http.Request, b *binding) (time.Duration, bool) {
	if b.method.IsStreamingClient() || b.method.IsStreamingServer() {
		if v := r.Header.Get("Grpc-Timeout"); v != "" {
			return decodeTimeout(v)
		}
		return 0, false
	}
	return h.deadline(r)
}

// deadline is the call's timeout: the route's, shortened by a client's
// Grpc-Timeout header.
func (h *Handler) deadline(r *http.Request) (time.Duration, bool) {
	d := h.cfg.Timeout.D()
	if v := r.Header.Get("Grpc-Timeout"); v != "" {
		if c, ok := decodeTimeout(v); ok && (d == 0 || c < d) {
			d = c
		}
	}
	return d, d > 0
}

// timeoutUnits are grpc-timeout's units, smallest first.
var timeoutUnits = [...]struct {
	suffix byte
	size   time.Duration
}{{'n', time.Nanosecond}, {'u', time.Microsecond}, {'m', time.Millisecond}, {'S', time.Second}, {'M', time.Minute}, {'H', time.Hour}}

// encodeTimeout writes d as a grpc-timeout value (at most 8 digits).
func encodeTimeout(d time.Duration) string {
	if d <= 0 {
		return "1n"
	}
	for _, u := range timeoutUnits {
		if v := (d + u.size - 1) / u.size; v < 1e8 {
			return strconv.FormatInt(int64(v), 10) + string(u.suffix)
		}
	}
	return "99999999H"
}

// decodeTimeout reads a grpc-timeout value: 1 to 8 digits and a unit.
func decodeTimeout(s string) (time.Duration, bool) {
	if len(s) < 2 || len(s) > 9 {
		return 0, false
	}
	v, err := strconv.ParseInt(s[:len(s)-1], 10, 64)
	if err != nil || v < 0 {
		return 0, false
	}
	for _, u := range timeoutUnits {
		if u.suffix == s[len(s)-1] {
			return time.Duration(v) * u.size, true
		}
	}
	return 0, false
}

// callStatus is the outcome of a gRPC answer whose head has arrived and
// that is not a gRPC answer at all, or a trailers-only one: ok is false
// when the answer is an error already described by st.
func callStatus(res *http.Response) (st *status.Status, httpStatus int, ok bool) {
	if res.StatusCode != http.StatusOK {
		c := codeFromHTTP(res.StatusCode)
		return &status.Status{Code: int32(c), Message: "upstream answered HTTP " + strconv.Itoa(res.StatusCode) + " instead of gRPC"}, HTTPStatus(c), false
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/grpc") {
		return &status.Status{Code: int32(codes.Unknown), Message: "upstream answered a non-gRPC content type"}, http.StatusBadGateway, false
	}
	if s, found := parseStatus(res.Header); found { // trailers-only
		if s.Code == 0 {
			return s, http.StatusOK, true
		}
		return s, HTTPStatus(codes.Code(s.Code)), false
	}
	return nil, http.StatusOK, true
}

// codeFromHTTP maps the HTTP status of an answer that is not gRPC to a
// code, as gRPC clients do (gRPC's "HTTP to gRPC status code mapping").
func codeFromHTTP(s int) codes.Code {
	switch s {
	case http.StatusBadRequest:
		return codes.Internal
	case http.StatusUnauthorized:
		return codes.Unauthenticated
	case http.StatusForbidden:
		return codes.PermissionDenied
	case http.StatusNotFound:
		return codes.Unimplemented
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return codes.Unavailable
	}
	return codes.Unknown
}

// trailerStatus reads the final status from the trailers once the body
// has been read to its end.
func trailerStatus(res *http.Response) (*status.Status, int) {
	s, ok := parseStatus(res.Trailer)
	if !ok {
		return &status.Status{Code: int32(codes.Unknown), Message: "upstream ended the call without a gRPC status"}, http.StatusBadGateway
	}
	if s.Code == 0 {
		return s, http.StatusOK
	}
	return s, HTTPStatus(codes.Code(s.Code))
}

// outcome is what Done reports for a call status: the HTTP status, but
// UNIMPLEMENTED (the method is unknown upstream) counts as success for
// health (the endpoint works) and asks the source for fresh descriptors.
func (h *Handler) outcome(st *status.Status, httpStatus int) int {
	if st != nil && codes.Code(st.Code) == codes.Unimplemented {
		h.src.RequestRefresh()
		return http.StatusOK
	}
	return httpStatus
}

// responseMessage unmarshals one response message of b.
func responseMessage(b *binding, raw []byte) (protoreflect.Message, error) {
	m := b.out.New()
	if err := unwire.Unmarshal(raw, m.Interface()); err != nil {
		return nil, err
	}
	return m, nil
}
