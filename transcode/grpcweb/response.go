package grpcweb

import (
	"io"
	"net/http"
	"strings"
)

// Response states.
const (
	stateNew   = iota // nothing written yet
	stateGRPC         // translating a native gRPC response
	statePlain        // not gRPC: passed as is
	stateDone         // answered by this package; next's output is discarded
)

// missingStatus is the message sent when a gRPC response ends without grpc-status, as a native
// client would report it (INTERNAL).
const missingStatus = "grpcweb: upstream response ended without grpc-status"

// responseWriter is the ResponseWriter given to the next handler for a gRPC-Web request. It is
// used from the handler's goroutine only, like any ResponseWriter.
type responseWriter struct {
	w        http.ResponseWriter
	rc       *http.ResponseController
	v        *variant
	dec      *textDecoder // -text request body, nil otherwise
	enc      *textEncoder // -text response body, nil otherwise
	state    int
	declared []string            // trailer names announced in the Trailer header
	head     map[string][]string // status keys sent in the headers (trailers-only response)
	frames   frameScanner
}

var _ http.Flusher = (*responseWriter)(nil)

func newResponseWriter(w http.ResponseWriter, v *variant) *responseWriter {
	rw := &responseWriter{w: w, rc: http.NewResponseController(w), v: v}
	if v.text {
		rw.enc = &textEncoder{w: w}
	}
	return rw
}

// Header returns the underlying header map, so headers set in front of Handler stay visible.
func (rw *responseWriter) Header() http.Header { return rw.w.Header() }

// Unwrap gives http.ResponseController access to the underlying writer.
func (rw *responseWriter) Unwrap() http.ResponseWriter { return rw.w }

// WriteHeader decides, from the response Content-Type, whether the response is translated or
// passed as is, and sends the headers. Informational (1xx) responses are passed on.
func (rw *responseWriter) WriteHeader(code int) {
	if rw.state != stateNew {
		return
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		rw.w.WriteHeader(code)
		return
	}
	if rw.dec != nil && rw.dec.failed() != nil {
		rw.state = stateDone
		writeStatus(rw.w, rw.v, statusTrailer(codeInvalidArgument, rw.dec.failed().Error()))
		return
	}
	h := rw.w.Header()
	if !isGRPC(h.Get("Content-Type")) {
		rw.state = statePlain
		rw.w.WriteHeader(code)
		return
	}
	rw.state = stateGRPC
	for _, v := range h.Values("Trailer") {
		for name := range strings.SplitSeq(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				rw.declared = append(rw.declared, http.CanonicalHeaderKey(name))
				h.Del(name)
			}
		}
	}
	h.Del("Trailer")
	for _, k := range statusKeys {
		if vv := h.Values(k); len(vv) > 0 {
			if rw.head == nil {
				rw.head = make(map[string][]string, len(statusKeys))
			}
			rw.head[strings.ToLower(k)] = vv
		}
	}
	h.Set("Content-Type", rw.v.web)
	h.Del("Content-Length")
	exposeStatus(h)
	rw.w.WriteHeader(code)
}

// Write passes b on, translated for a gRPC response: base64-encoded in text mode, and flushed
// when it completes a frame.
func (rw *responseWriter) Write(b []byte) (int, error) {
	if rw.state == stateNew {
		rw.WriteHeader(http.StatusOK)
	}
	switch rw.state {
	case statePlain:
		return rw.w.Write(b)
	case stateDone:
		return len(b), nil
	}
	if rw.enc == nil {
		n, err := rw.w.Write(b)
		if err == nil && rw.completesFrame(b) {
			err = rw.rc.Flush()
		}
		return n, err
	}
	flush := false
	for rest := b; len(rest) > 0; {
		n, end := rw.frames.advance(rest)
		if _, err := rw.enc.Write(rest[:n]); err != nil {
			return 0, err
		}
		if end {
			if err := rw.enc.endSegment(); err != nil {
				return 0, err
			}
			flush = true
		}
		rest = rest[n:]
	}
	if flush {
		return len(b), rw.rc.Flush()
	}
	return len(b), nil
}

// completesFrame scans b and reports whether a frame ended in it.
func (rw *responseWriter) completesFrame(b []byte) bool {
	ended := false
	for len(b) > 0 {
		n, end := rw.frames.advance(b)
		ended = ended || end
		b = b[n:]
	}
	return ended
}

// Flush sends what has been written. In text mode up to two bytes of an unfinished frame wait
// for the rest of their group.
func (rw *responseWriter) Flush() {
	if rw.state == stateNew {
		rw.WriteHeader(http.StatusOK)
	}
	if rw.state != stateDone {
		// Flush errors mean the client is gone; the next Write reports it.
		_ = rw.rc.Flush()
	}
}

// finish ends a gRPC response with its trailer frame, once next has returned. It aborts the
// response (panics with http.ErrAbortHandler) if next stopped in the middle of a frame.
func (rw *responseWriter) finish() {
	failed := rw.dec != nil && rw.dec.failed() != nil
	switch {
	case rw.state == stateNew && failed:
		rw.WriteHeader(http.StatusOK) // answers with the decode error
		return
	case rw.state != stateGRPC:
		return
	}
	if rw.frames.hn != 0 {
		// The body stopped inside a frame: a trailer frame after it would be misread, so break
		// the response off the way net/http does, and the client sees a failed call.
		panic(http.ErrAbortHandler)
	}
	t := rw.trailers()
	switch {
	case failed:
		t = statusTrailer(codeInvalidArgument, rw.dec.failed().Error())
	case t["grpc-status"] != nil:
	case rw.head["grpc-status"] != nil:
		t = rw.head
	default:
		t = statusTrailer(codeInternal, missingStatus)
	}
	frame := trailerFrame(t)
	var out io.Writer = rw.w
	if rw.enc != nil {
		if err := rw.enc.endSegment(); err != nil {
			return
		}
		out = rw.enc
	}
	if _, err := out.Write(frame); err != nil {
		return
	}
	if rw.enc != nil && rw.enc.endSegment() != nil {
		return
	}
	_ = rw.rc.Flush()
}

// trailers collects the trailers next set, both announced ones and those named with
// http.TrailerPrefix, and removes them from the header map so the server does not send them as
// HTTP trailers.
func (rw *responseWriter) trailers() map[string][]string {
	h := rw.w.Header()
	t := make(map[string][]string)
	for k, vv := range h {
		if name, ok := strings.CutPrefix(k, http.TrailerPrefix); ok {
			lk := strings.ToLower(name)
			t[lk] = append(t[lk], vv...)
			delete(h, k)
		}
	}
	for _, k := range rw.declared {
		if vv, ok := h[k]; ok {
			lk := strings.ToLower(k)
			t[lk] = append(t[lk], vv...)
			delete(h, k)
		}
	}
	return t
}

// recoverAbort is deferred around next. A handler that aborts (http.ErrAbortHandler, as a
// reverse proxy does when the upstream stream breaks) because the request body held invalid
// base64 gets the response finished with that status instead; any other panic goes on.
func (rw *responseWriter) recoverAbort() {
	v := recover()
	if v == nil {
		return
	}
	if v == http.ErrAbortHandler && rw.dec != nil && rw.dec.failed() != nil && rw.state != statePlain {
		rw.finish()
		return
	}
	panic(v)
}
