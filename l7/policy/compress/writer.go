package compress

import (
	"net/http"
	"strconv"
	"strings"
)

// state is where a response stands; it only moves forward.
type state uint8

const (
	pending     state = iota // nothing written yet
	buffering                // head held, body held until limit bytes
	passing                  // head written, body goes through as is
	compressing              // head written, body goes through enc
)

// sniffLen is how much body http.DetectContentType reads.
const sniffLen = 512

// writer is the ResponseWriter a compressed route's handler writes to. It
// is used by one handler goroutine, as any ResponseWriter.
type writer struct {
	http.ResponseWriter
	c      *Compressor
	coding *coding // negotiated; nil: the client takes identity only
	state  state
	status int
	limit  int // bytes buffered before deciding
	sniff  bool
	buf    []byte
	enc    encoder
}

// WriteHeader holds or writes the head, as described on Wrap.
func (w *writer) WriteHeader(code int) {
	if w.state != pending {
		if w.state != buffering { // let net/http report the superfluous call
			w.ResponseWriter.WriteHeader(code)
		}
		return
	}
	if code < 200 && code != http.StatusSwitchingProtocols { // 103 Early Hints and the like
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.status = code
	h := w.ResponseWriter.Header()
	if !w.eligible(h, code) {
		w.pass(false)
		return
	}
	if _, ok := h["Content-Type"]; !ok {
		if w.coding == nil {
			// Unknown type, identity anyway: a missing Vary here only
			// lets a cache serve this (always valid) identity body.
			w.pass(false)
			return
		}
		w.sniff, w.limit, w.state = true, max(w.c.minBytes, sniffLen), buffering
		return
	}
	addVary(h)
	switch n, known := contentLength(h); {
	case w.coding == nil, known && n < int64(w.c.minBytes):
		w.pass(false)
	case known || w.c.minBytes == 0:
		w.start()
	default:
		w.limit, w.state = w.c.minBytes, buffering
	}
}

// eligible applies the rules that need no body: status, an existing
// coding, no-transform and the media type (when there is one).
func (w *writer) eligible(h http.Header, code int) bool {
	if code < 200 || code == http.StatusNoContent || code == http.StatusNotModified {
		return false
	}
	if len(h["Content-Encoding"]) > 0 {
		return false
	}
	for _, v := range h["Cache-Control"] {
		if hasToken(v, "no-transform") {
			return false
		}
	}
	ct, ok := h["Content-Type"]
	if !ok {
		return true // sniffed later
	}
	return len(ct) > 0 && w.c.types.matches(ct[0])
}

func (w *writer) Write(b []byte) (int, error) {
	switch w.state {
	case pending:
		w.WriteHeader(http.StatusOK)
		return w.Write(b)
	case buffering:
		n := min(len(b), w.limit-len(w.buf))
		if w.buf == nil {
			w.buf = make([]byte, 0, w.limit)
		}
		w.buf = append(w.buf, b[:n]...)
		if len(w.buf) < w.limit {
			return len(b), nil
		}
		w.decide(false)
		m, err := w.Write(b[n:])
		return n + m, err
	case compressing:
		return w.enc.Write(b)
	default:
		return w.ResponseWriter.Write(b)
	}
}

// Flush sends what was written so far to the client. A response still
// buffered is decided now, compressed when it qualifies whatever its size:
// a handler that flushes is streaming, and will send more.
func (w *writer) Flush() {
	switch w.state {
	case pending:
		w.WriteHeader(http.StatusOK)
		if w.state == buffering {
			w.decide(false)
		}
	case buffering:
		w.decide(false)
	}
	if w.state == compressing {
		if err := w.enc.Flush(); err != nil {
			return
		}
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach Hijack and deadlines.
func (w *writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// decide ends buffering. final: the handler has returned, so the body is
// all in buf.
func (w *writer) decide(final bool) {
	h := w.ResponseWriter.Header()
	if w.sniff {
		if len(w.buf) == 0 {
			w.pass(final) // no body: nothing to sniff or compress
			return
		}
		ct := http.DetectContentType(w.buf)
		h.Set("Content-Type", ct)
		if !w.c.types.matches(ct) {
			w.pass(final)
			return
		}
		addVary(h)
	}
	if final && len(w.buf) < w.c.minBytes {
		w.pass(true)
		return
	}
	w.start()
}

// pass writes the head unchanged (with a Content-Length when the whole
// body is known) and whatever was buffered.
func (w *writer) pass(final bool) {
	w.state = passing
	if final {
		if _, ok := w.Header()["Content-Length"]; !ok && bodyAllowed(w.status) {
			w.Header().Set("Content-Length", strconv.Itoa(len(w.buf)))
		}
	}
	w.ResponseWriter.WriteHeader(w.status)
	if len(w.buf) > 0 {
		_, _ = w.ResponseWriter.Write(w.buf)
	}
	w.buf = nil
}

// start writes the head of the compressed representation and sends what
// was buffered through a pooled encoder.
func (w *writer) start() {
	w.state = compressing
	h := w.ResponseWriter.Header()
	delete(h, "Content-Length")
	delete(h, "Accept-Ranges") // ranges of the identity body do not apply
	h["Content-Encoding"] = w.coding.hdr
	if etag := h.Get("Etag"); etag != "" && !strings.HasPrefix(etag, "W/") {
		// RFC 9110 §8.8.3: the encoded bytes differ, so a strong
		// validator of the identity body would be wrong here.
		h.Set("Etag", "W/"+etag)
	}
	w.ResponseWriter.WriteHeader(w.status)
	w.enc = w.coding.get(w.ResponseWriter)
	if len(w.buf) > 0 {
		_, _ = w.enc.Write(w.buf)
	}
	w.buf = nil
}

// finish completes the response after the handler returns: it decides a
// still-buffered body and closes and recycles the encoder.
func (w *writer) finish() {
	switch w.state {
	case buffering:
		w.decide(true)
		if w.state != compressing {
			return
		}
	case compressing:
	default:
		return
	}
	_ = w.enc.Close()
	w.coding.put(w.enc)
	w.enc = nil
}

// addVary adds Accept-Encoding to Vary unless it is there (or "*").
func addVary(h http.Header) {
	for _, v := range h["Vary"] {
		if hasToken(v, "accept-encoding") || strings.TrimSpace(v) == "*" {
			return
		}
	}
	h.Add("Vary", "Accept-Encoding")
}

// hasToken reports whether a comma-separated field value has token,
// case-insensitively.
func hasToken(v, token string) bool {
	for t := range strings.SplitSeq(v, ",") {
		if strings.EqualFold(strings.TrimSpace(t), token) {
			return true
		}
	}
	return false
}

// contentLength reads the Content-Length the handler set, if valid.
func contentLength(h http.Header) (int64, bool) {
	v := h["Content-Length"]
	if len(v) == 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(v[0], 10, 64)
	return n, err == nil && n >= 0
}

func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

var _ http.Flusher = (*writer)(nil)
