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
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/bouncer-proxy/bouncer/l7"
	"github.com/bouncer-proxy/bouncer/l7/proxy"
	"github.com/bouncer-proxy/bouncer/transcode/httprule"
)

// maxResponseMessage bounds one response message read from the upstream.
const maxResponseMessage = 16 << 20

// serveBinding runs one REST call of binding b.
func (h *Handler) serveBinding(w http.ResponseWriter, r *http.Request, t *table, b *binding, vars []httprule.VarValue) {
	if b.method.IsStreamingClient() && websocket.IsWebSocketUpgrade(r) {
		h.serveWebSocket(w, r, t, b, vars)
		return
	}
	d, ok := h.callDeadline(r, b)
	if ok && d <= 0 {
		writeError(w, r, http.StatusGatewayTimeout, "the call's deadline (grpc-timeout) has already passed")
		return
	}
	c := newCall(r, d)
	defer c.end()
	r = r.WithContext(c.ctx)
	body, getBody, length, err := h.requestBody(c, r, t, b, vars)
	if err != nil {
		h.writeInputError(w, r, err)
		return
	}
	// However the call ends, the pump reading a client stream stops.
	defer body.Close()
	req := h.upstreamRequest(r, b, io.NopCloser(body), length, c.timeout)
	req.GetBody = getBody
	x, gerr := h.proxy.Exchange(req, b.retryOK && getBody != nil)
	if x == nil {
		h.writeExchangeError(w, r, gerr)
		return
	}
	// Done runs on every path, the cut of a raw stream included, and only
	// once the call is cancelled: a body still open upstream (a stream
	// that broke off here) must not hold it.
	outcome, abort := http.StatusBadGateway, false
	defer func() {
		c.end()
		x.Done(outcome)
		if abort {
			panic(http.ErrAbortHandler) // raw bytes have no room for an error: cut the response
		}
	}()
	outcome, abort = h.respond(w, r, t, b, x.Res)
}

// requestBody is the upstream body of a call: the framed request message,
// replayable, or for a client stream the frames of its NDJSON lines as
// they are read.
func (h *Handler) requestBody(c *call, r *http.Request, t *table, b *binding, vars []httprule.VarValue) (io.ReadCloser, func() (io.ReadCloser, error), int64, error) {
	if b.method.IsStreamingClient() {
		pr, err := h.streamRequest(c, r, t, b, vars)
		if err != nil {
			return nil, nil, 0, err
		}
		return closePipe{pr}, nil, -1, nil
	}
	if b.body != bodyNone && !b.bodyRaw && !isJSONContentType(r.Header.Get("Content-Type")) {
		return nil, nil, 0, &inputError{status: http.StatusUnsupportedMediaType, msg: "the body must be JSON (application/json)"}
	}
	var body []byte
	if b.body != bodyNone {
		var err error
		if body, err = readBody(r, int64(h.cfg.MaxBodyBytes)); err != nil {
			return nil, nil, 0, err
		}
	}
	m, err := h.fillRequest(b, t, r, vars, body)
	if err != nil {
		return nil, nil, 0, err
	}
	raw, err := wire.Marshal(m.Interface())
	if err != nil {
		return nil, nil, 0, badInput("", "the request cannot be encoded: %s", limitText(err.Error(), 200))
	}
	framed := appendFrame(make([]byte, 0, frameHeaderLen+len(raw)), raw)
	getBody := func() (io.ReadCloser, error) { return proxy.BytesBody(framed), nil }
	return proxy.BytesBody(framed), getBody, int64(len(framed)), nil
}

// closePipe is the upstream's end of a client stream's pipe: closing it
// stops the pump that reads the client.
type closePipe struct{ pr *io.PipeReader }

func (p closePipe) Read(b []byte) (int, error) { return p.pr.Read(b) }
func (p closePipe) Close() error               { return p.pr.CloseWithError(io.ErrClosedPipe) }

// writeExchangeError answers a call that got no response head: the
// client's bad request stream, a deadline that passed (the upstream saw it
// as grpc-timeout and may reset the stream a moment before Bouncer's own
// timer fires), the proxy's error, or nothing when the client went away.
func (h *Handler) writeExchangeError(w http.ResponseWriter, r *http.Request, gerr *l7.Error) {
	var ie *inputError
	switch {
	case errors.As(context.Cause(r.Context()), &ie):
		h.writeInputError(w, r, ie)
	case gerr == nil: // the client went away
	case gerr.Status == http.StatusBadGateway && (errors.Is(r.Context().Err(), context.DeadlineExceeded) || deadlineNear(r.Context())):
		writeError(w, r, http.StatusGatewayTimeout, "the call did not finish within its deadline")
	default:
		writeError(w, r, gerr.Status, gerr.Message)
	}
}

// writeInputError answers a client mistake, or a body read failure.
func (h *Handler) writeInputError(w http.ResponseWriter, r *http.Request, err error) {
	var ie *inputError
	if errors.As(err, &ie) {
		writeStatus(w, r, ie.status, ie.rpcStatus(), nil)
		return
	}
	if r.Context().Err() != nil {
		return
	}
	writeError(w, r, http.StatusBadRequest, "the request body could not be read")
}

// upstreamRequest is the gRPC request for b: POST of the framed messages
// with the call's metadata and timeout (0: none).
func (h *Handler) upstreamRequest(r *http.Request, b *binding, body io.ReadCloser, length int64, timeout time.Duration) *http.Request {
	hdr := http.Header{
		"Content-Type": {"application/grpc+proto"},
		"Te":           {"trailers"},
	}
	h.copyMetadata(hdr, r.Header)
	if timeout > 0 {
		hdr.Set("Grpc-Timeout", encodeTimeout(timeout))
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
