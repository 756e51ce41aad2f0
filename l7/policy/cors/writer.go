package cors

import "net/http"

// writer sets the CORS headers of an allowed origin (origin != "") when
// the response head is written, so that they replace any an upstream sent
// (the proxy copies upstream headers over what is already set); for other
// requests it only removes the upstream's.
type writer struct {
	http.ResponseWriter
	c      *CORS
	origin string
	done   bool
}

func (w *writer) WriteHeader(code int) {
	if !w.done && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.done = true
		h := w.ResponseWriter.Header()
		for _, k := range corsResponseHeaders {
			delete(h, k)
		}
		if w.origin != "" {
			w.c.setOrigin(h, w.origin)
			if w.c.exposeHdr != nil {
				h["Access-Control-Expose-Headers"] = w.c.exposeHdr
			}
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *writer) Write(b []byte) (int, error) {
	if !w.done {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush, Hijack and deadlines.
func (w *writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush forwards to the underlying writer, for code that type-asserts
// http.Flusher.
func (w *writer) Flush() {
	if !w.done {
		w.WriteHeader(http.StatusOK)
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// corsResponseHeaders are the headers an upstream may have set that the
// edge's policy replaces.
var corsResponseHeaders = []string{
	"Access-Control-Allow-Origin",
	"Access-Control-Allow-Credentials",
	"Access-Control-Expose-Headers",
	"Access-Control-Allow-Methods",
	"Access-Control-Allow-Headers",
	"Access-Control-Max-Age",
}

var _ http.Flusher = (*writer)(nil)
