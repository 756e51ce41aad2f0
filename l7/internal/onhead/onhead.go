// Package onhead runs a hook on a response's header just before its final
// head goes out: at WriteHeader, at the first Write or Flush, or, for a
// handler that wrote nothing (the server then sends the head itself once
// the handler returns), at Finish.
package onhead

import "net/http"

// Hook changes a response header before it is sent.
type Hook interface {
	Head(http.Header)
}

// Writer is an http.ResponseWriter that runs its Hook once, before the
// first final head: a status of 200 or more, or 101 (an informational
// 1xx head goes out as it is).
type Writer struct {
	http.ResponseWriter
	hook Hook
	done bool
}

// New wraps w so that hook sees the header before the head is written.
func New(w http.ResponseWriter, hook Hook) *Writer {
	return &Writer{ResponseWriter: w, hook: hook}
}

// WriteHeader runs the hook before the first final head.
func (w *Writer) WriteHeader(code int) {
	if !w.done && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.Finish()
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write writes the head first if the handler did not.
func (w *Writer) Write(b []byte) (int, error) {
	if !w.done {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Flush writes the head first if the handler did not, then flushes, so
// streamed responses stay streamed.
func (w *Writer) Flush() {
	if !w.done {
		w.WriteHeader(http.StatusOK)
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach Hijack, deadlines and the
// like on the writer underneath.
func (w *Writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Finish runs the hook unless it has run. Call it when the handler
// returns: a handler that wrote nothing leaves the head to the server.
func (w *Writer) Finish() {
	if !w.done {
		w.done = true
		w.hook.Head(w.ResponseWriter.Header())
	}
}

var _ http.Flusher = (*Writer)(nil)
