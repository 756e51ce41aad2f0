package transcode

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/bouncer-proxy/bouncer/transcode/httprule"
)

// Bidirectional streaming over WebSocket: each text (or binary) message
// from the client is one JSON request message; each response message goes
// back as one text message. When the call ends with an error, a last text
// message {"error": google.rpc.Status} precedes the close (1011); a clean
// end closes with 1000.

const wsWriteWait = 10 * time.Second

// errClientGone ends a WebSocket call whose client's side has ended.
var errClientGone = errors.New("transcode: the WebSocket client has gone")

var upgrader = websocket.Upgrader{
	ReadBufferSize:  16 << 10,
	WriteBufferSize: 16 << 10,
	// The route decides who may call; browsers send Origin, and CORS
	// policies (not this handler) judge it.
	CheckOrigin: func(*http.Request) bool { return true },
}

// hijacker reaches Hijack through wrapping ResponseWriters (Unwrap), which
// gorilla/websocket does not look through.
type hijacker struct{ http.ResponseWriter }

func (h hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(h.ResponseWriter).Hijack()
}

// serveWebSocket runs a streaming call of b over a WebSocket. After the
// hijack the client's request context is no longer cancelled by the
// server, so the call has its own: cancelled when the client's side of
// the socket ends, and bounded by the call's deadline.
func (h *Handler) serveWebSocket(w http.ResponseWriter, r *http.Request, t *table, b *binding, vars []httprule.VarValue) {
	d, ok := h.callDeadline(r, b)
	if ok && d <= 0 {
		writeError(w, r, http.StatusGatewayTimeout, "the call's deadline (grpc-timeout) has already passed")
		return
	}
	ws, err := upgrader.Upgrade(hijacker{w}, r, nil)
	if err != nil {
		return // the upgrader has answered
	}
	defer ws.Close()
	ws.SetReadLimit(int64(h.messageLimit())) // a longer message closes with 1009
	c := newCall(r, d)
	defer c.end()
	r = r.WithContext(c.ctx)
	pr, pw := io.Pipe()
	defer pr.CloseWithError(io.ErrClosedPipe) // stops the request pump if the client still sends
	go h.wsRequests(c, ws, pw, r, t, b, vars)
	req := h.upstreamRequest(r, b, io.NopCloser(pr), -1, c.timeout)
	x, gerr := h.proxy.Exchange(req, false)
	if x == nil {
		if st, _, ok := callEnded(r.Context()); ok && st.Code != int32(codes.Canceled) {
			wsClose(ws, st, t)
		} else if gerr != nil {
			wsClose(ws, &status.Status{Code: int32(codeForHTTP(gerr.Status)), Message: gerr.Message}, t)
		}
		return
	}
	st, hs := h.wsResponses(ws, r, t, b, x.Res)
	c.end() // the upstream stream stops before Done reads what is left of it
	x.Done(h.outcome(st, hs))
	wsClose(ws, st, t)
}

// wsRequests turns the client's WebSocket messages into request frames.
// When the client's side ends (a close, a broken connection, a message
// over the limit) nothing more can reach it, so the call is cancelled.
func (h *Handler) wsRequests(c *call, ws *websocket.Conn, pw *io.PipeWriter, r *http.Request, t *table, b *binding, vars []httprule.VarValue) {
	for {
		kind, data, err := ws.ReadMessage()
		if err != nil {
			failStream(c, pw, errClientGone)
			return
		}
		if kind != websocket.TextMessage && kind != websocket.BinaryMessage {
			continue
		}
		if err := h.sendRequest(pw, b, t, r, vars, data); err != nil {
			failStream(c, pw, err)
			return
		}
	}
}

// wsResponses sends every response message as a text message and returns
// the call's status.
func (h *Handler) wsResponses(ws *websocket.Conn, r *http.Request, t *table, b *binding, res *http.Response) (*status.Status, int) {
	st, hs, ok := callStatus(res)
	switch {
	case !ok:
		return st, hs
	case st != nil: // trailers-only OK: no messages
		return st, http.StatusOK
	}
	fr := &frameReader{r: res.Body, max: maxResponseMessage}
	for {
		raw, err := fr.next()
		if err == io.EOF {
			return trailerStatus(res)
		}
		if err != nil {
			if st, hs, ok := callEnded(r.Context()); ok {
				return st, hs
			}
			return &status.Status{Code: int32(codes.Unavailable), Message: "upstream stream broke off"}, http.StatusBadGateway
		}
		msg, err := responseMessage(b, raw)
		var out []byte
		if err == nil {
			out, _, err = h.encodeResponse(t, b, msg)
		}
		if err != nil {
			return &status.Status{Code: int32(codes.Internal), Message: "upstream sent a message that cannot be decoded"}, http.StatusBadGateway
		}
		_ = ws.SetWriteDeadline(time.Now().Add(wsWriteWait))
		if err := ws.WriteMessage(websocket.TextMessage, out); err != nil {
			return &status.Status{Code: int32(codes.Canceled), Message: "client went away"}, 499
		}
	}
}

// wsClose ends the WebSocket with the call's status.
func wsClose(ws *websocket.Conn, st *status.Status, t *table) {
	_ = ws.SetWriteDeadline(time.Now().Add(wsWriteWait))
	if st == nil || st.Code == 0 {
		_ = ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
		return
	}
	st.Message = strings.ToValidUTF8(st.Message, "\uFFFD")
	rec, _ := protojson.MarshalOptions{Resolver: resolver{own: t.set.Types}}.Marshal(st)
	_ = ws.WriteMessage(websocket.TextMessage, []byte(`{"error":`+string(rec)+`}`))
	reason := codes.Code(st.Code).String()
	_ = ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseInternalServerErr, reason))
}
