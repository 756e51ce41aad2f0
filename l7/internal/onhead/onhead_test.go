package onhead

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

type count struct{ n int }

func (c *count) Head(h http.Header) { c.n++; h.Set("X-Hook", "1") }

// TestOnce: the hook runs once, before the first final head, whichever
// call writes it; an informational head does not count; Finish runs it for
// a handler that wrote nothing.
func TestOnce(t *testing.T) {
	for name, handle := range map[string]func(w *Writer){
		"WriteHeader":     func(w *Writer) { w.WriteHeader(http.StatusCreated); w.WriteHeader(http.StatusOK) },
		"Write":           func(w *Writer) { _, _ = w.Write([]byte("a")); _, _ = w.Write([]byte("b")) },
		"Flush":           func(w *Writer) { w.Flush(); _, _ = w.Write([]byte("a")) },
		"after 103":       func(w *Writer) { w.WriteHeader(http.StatusEarlyHints); w.WriteHeader(http.StatusOK) },
		"101":             func(w *Writer) { w.WriteHeader(http.StatusSwitchingProtocols) },
		"nothing written": func(w *Writer) {},
	} {
		t.Run(name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			var c count
			w := New(rec, &c)
			handle(w)
			w.Finish()
			if c.n != 1 || rec.Header().Get("X-Hook") != "1" {
				t.Errorf("hook ran %d times, header %q", c.n, rec.Header().Get("X-Hook"))
			}
		})
	}
}
