package transcode

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/bouncer-proxy/bouncer/transcode/httprule"
)

// defaultMaxLine bounds one message of a client stream (an NDJSON line, a
// WebSocket message) when the route sets no max_request_body_bytes.
const defaultMaxLine = 4 << 20

// messageLimit is the largest client-stream message the route accepts.
func (h *Handler) messageLimit() int {
	if h.cfg.MaxBodyBytes > 0 {
		return int(h.cfg.MaxBodyBytes)
	}
	return defaultMaxLine
}

// streamRequest turns a client-streaming request's NDJSON body into gRPC
// frames, read as the upstream asks for them, by a pump that runs until
// the body ends or the returned pipe is closed. Path variables and query
// parameters fill every message. A bad line (malformed, too long, not
// valid for the method) fails c with its *inputError, then breaks the
// upstream body.
func (h *Handler) streamRequest(c *call, r *http.Request, t *table, b *binding, vars []httprule.VarValue) (*io.PipeReader, error) {
	if !isJSONContentType(r.Header.Get("Content-Type")) {
		return nil, &inputError{status: http.StatusUnsupportedMediaType, msg: "the body must be NDJSON (application/x-ndjson)"}
	}
	pr, pw := io.Pipe()
	go h.pumpNDJSON(c, pw, r, t, b, vars)
	return pr, nil
}

// pumpNDJSON is streamRequest's pump; each line may be
// max_request_body_bytes long (its newline aside).
func (h *Handler) pumpNDJSON(c *call, pw *io.PipeWriter, r *http.Request, t *table, b *binding, vars []httprule.VarValue) {
	limit := h.messageLimit()
	sc := bufio.NewScanner(r.Body)
	// The buffer holds a line and its newline; it starts small, so the
	// limit holds below the scanner's own initial size too.
	sc.Buffer(make([]byte, 0, min(64<<10, limit+1)), limit+1)
	for sc.Scan() {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if err := h.sendRequest(pw, b, t, r, vars, line); err != nil {
			failStream(c, pw, err)
			return
		}
	}
	switch err := sc.Err(); {
	case err == nil:
		_ = pw.Close() // a clean end of the request stream
	case errors.Is(err, bufio.ErrTooLong):
		failStream(c, pw, &inputError{status: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf("a request line is longer than %d bytes", limit)})
	default:
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			failStream(c, pw, &inputError{status: http.StatusRequestEntityTooLarge, msg: "request body is too large"})
			return
		}
		failStream(c, pw, err) // the client's body broke: the client is gone or going
	}
}

// sendRequest writes one JSON request message of a client stream to the
// upstream body as a frame. The error is the client's (*inputError), or
// the pipe's once the call has ended.
func (h *Handler) sendRequest(pw *io.PipeWriter, b *binding, t *table, r *http.Request, vars []httprule.VarValue, data []byte) error {
	m, err := h.fillRequest(b, t, r, vars, data)
	if err != nil {
		return err
	}
	raw, err := wire.Marshal(m.Interface())
	if err != nil {
		return badInput("", "the request cannot be encoded: %s", limitText(err.Error(), 200))
	}
	_, err = pw.Write(appendFrame(nil, raw))
	return err
}

// failStream ends a client stream on err, the call first (so the proxy
// sees a cancelled call, not an upstream fault), then the upstream body.
// A client's mistake (*inputError) is answered as such; any other error
// (the client's body broke) is the client gone.
func failStream(c *call, pw *io.PipeWriter, err error) {
	c.fail(err)
	_ = pw.CloseWithError(err)
}
