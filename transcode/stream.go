package transcode

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
)

// streamFormat is how a server stream is written: chosen per request from
// Accept.
type streamFormat uint8

const (
	formatNDJSON streamFormat = iota // one JSON document per line (default)
	formatSSE                        // text/event-stream: "data: {...}" events
	formatArray                      // one JSON array, written as messages arrive
	formatRaw                        // google.api.HttpBody chunks, concatenated
)

// pickFormat reads Accept: text/event-stream, application/json (an
// array), anything else NDJSON. HttpBody streams are always raw.
func pickFormat(r *http.Request, b *binding) streamFormat {
	if b.respRaw {
		return formatRaw
	}
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case "text/event-stream":
			return formatSSE
		case "application/json":
			return formatArray
		case "application/x-ndjson", "application/jsonl", "application/json-seq":
			return formatNDJSON
		}
	}
	return formatNDJSON
}

var formatTypes = [...]string{formatNDJSON: "application/x-ndjson", formatSSE: "text/event-stream", formatArray: "application/json"}

// stream writes a server stream: each message flushed as it arrives. An
// error before the first message is a plain HTTP error; one after it is
// an in-band record ({"error": google.rpc.Status}, an SSE "error" event,
// or the array's last element) since the status line is gone. It returns
// endStream's results.
func (h *Handler) stream(w http.ResponseWriter, r *http.Request, t *table, b *binding, res *http.Response) (int, bool) {
	format := pickFormat(r, b)
	rc := http.NewResponseController(w)
	msgs := make(chan []byte)
	done := make(chan error, 1)
	quit := make(chan struct{})
	defer close(quit)
	go readFrames(res.Body, msgs, done, quit)
	var heartbeat <-chan time.Time
	if format == formatSSE && h.cfg.SSEHeartbeat > 0 {
		tk := time.NewTicker(h.cfg.SSEHeartbeat.D())
		defer tk.Stop()
		heartbeat = tk.C
	}
	opts := h.marshal
	opts.Resolver = resolver{own: t.set.Types}
	started := false
	start := func(ctype string) {
		started = true
		h.writeMetadata(w.Header(), res.Header, "")
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(b.status)
		if format == formatArray {
			_, _ = io.WriteString(w, "[")
		}
	}
	count := 0
	for {
		select {
		case raw := <-msgs:
			msg, err := responseMessage(b, raw)
			var out []byte
			ctype := ""
			if err == nil {
				out, ctype, err = h.encodeResponse(t, b, msg)
			}
			if err != nil {
				st := &status.Status{Code: int32(codes.Internal), Message: "upstream sent a message that cannot be decoded"}
				return h.endStream(w, r, t, format, started, count, st, http.StatusBadGateway, res)
			}
			if !started {
				if format != formatRaw {
					ctype = formatTypes[format]
				}
				start(ctype)
			}
			writeRecord(w, format, out, count)
			count++
			_ = rc.Flush()
		case <-heartbeat:
			if !started {
				// Quiet from the start: the head goes out with the first
				// comment, so that the client (and anything between) sees
				// the stream is alive; a later error is then in-band.
				start(formatTypes[format])
			}
			_, _ = io.WriteString(w, ": keep-alive\n\n")
			_ = rc.Flush()
		case err := <-done:
			if err != io.EOF {
				if st, hs, ok := callEnded(r.Context()); ok {
					if hs == 499 {
						return hs, false // the client went away: nothing to tell it
					}
					return h.endStream(w, r, t, format, started, count, st, hs, res)
				}
				st := &status.Status{Code: int32(codes.Unavailable), Message: "upstream stream broke off"}
				if errors.Is(err, errFrameTooLarge) {
					st = &status.Status{Code: int32(codes.ResourceExhausted), Message: "upstream message is too large"}
				}
				return h.endStream(w, r, t, format, started, count, st, http.StatusBadGateway, res)
			}
			st, hs := trailerStatus(res)
			return h.endStream(w, r, t, format, started, count, st, hs, res)
		}
	}
}

// readFrames sends each message of body to msgs (a copy: the reader's
// buffer is reused), then the final read error to done; it stops when
// quit is closed.
func readFrames(body io.Reader, msgs chan<- []byte, done chan<- error, quit <-chan struct{}) {
	fr := &frameReader{r: body, max: maxResponseMessage}
	for {
		raw, err := fr.next()
		if err != nil {
			done <- err
			return
		}
		select {
		case msgs <- append([]byte(nil), raw...):
		case <-quit:
			return
		}
	}
}

// writeRecord writes one message in the stream's format.
func writeRecord(w io.Writer, format streamFormat, out []byte, n int) {
	switch format {
	case formatNDJSON:
		_, _ = w.Write(out)
		_, _ = io.WriteString(w, "\n")
	case formatSSE:
		_, _ = io.WriteString(w, "data: ")
		_, _ = w.Write(out)
		_, _ = io.WriteString(w, "\n\n")
	case formatArray:
		if n > 0 {
			_, _ = io.WriteString(w, ",")
		}
		_, _ = w.Write(out)
	case formatRaw:
		_, _ = w.Write(out)
	}
}

// endStream finishes a stream with its status and returns the outcome
// for Done; abort is true when the response must be cut instead (a raw
// stream has no room for an error once its bytes have started).
func (h *Handler) endStream(w http.ResponseWriter, r *http.Request, t *table, format streamFormat, started bool, n int, st *status.Status, hs int, res *http.Response) (outcome int, abort bool) {
	if !started {
		if st.Code != 0 {
			h.writeMetadata(w.Header(), res.Header, "")
			writeStatus(w, r, hs, st, t.set.Types)
			return h.outcome(st, hs), false
		}
		// An empty stream: an empty body of the right kind.
		h.writeMetadata(w.Header(), res.Header, "")
		if format == formatRaw {
			w.Header().Set("Content-Type", "application/octet-stream")
		} else {
			w.Header().Set("Content-Type", formatTypes[format])
		}
		w.WriteHeader(http.StatusOK)
		if format == formatArray {
			_, _ = io.WriteString(w, "[]")
		}
		return http.StatusOK, false
	}
	if st.Code != 0 && format != formatRaw {
		st.Message = strings.ToValidUTF8(st.Message, "\uFFFD")
		rec, _ := protojson.MarshalOptions{Resolver: resolver{own: t.set.Types}}.Marshal(st)
		switch format {
		case formatNDJSON:
			_, _ = io.WriteString(w, `{"error":`+string(rec)+"}\n")
		case formatSSE:
			_, _ = io.WriteString(w, "event: error\ndata: "+string(rec)+"\n\n")
		case formatArray:
			writeRecord(w, format, []byte(`{"error":`+string(rec)+"}"), n)
		}
	}
	if format == formatArray {
		_, _ = io.WriteString(w, "]")
	}
	// Trailing metadata of a stream becomes HTTP trailers (the head is gone).
	trailers := http.Header{}
	h.writeMetadata(trailers, res.Trailer, "Trailer-")
	for k, vv := range trailers {
		w.Header()[http.TrailerPrefix+k] = vv
	}
	return h.outcome(st, hs), st.Code != 0 && format == formatRaw
}
