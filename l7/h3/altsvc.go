package h3

import "net/http"

// AdvertiseAltSvc wraps h so that responses over HTTP/1.1 and h2 carry
// "Alt-Svc: value()" (omitted while value returns ""), and responses over
// HTTP/3 none. An Alt-Svc header the handler set, such as one copied from
// an upstream's response, is removed on every protocol: only this server
// knows where it serves HTTP/3. value is called once per response, from
// the handler's goroutine; pass (*Server).AltSvc.
func AdvertiseAltSvc(h http.Handler, value func() string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		aw := &altSvcWriter{ResponseWriter: w, value: value, h3: r.ProtoMajor >= 3}
		h.ServeHTTP(aw, r)
		if !aw.wrote {
			aw.fix() // the server writes the header of a handler that wrote nothing
		}
	})
}

// altSvcWriter replaces the Alt-Svc header when the header is written.
type altSvcWriter struct {
	http.ResponseWriter
	value func() string
	h3    bool
	wrote bool // a final (non-1xx) header was written
}

// WriteHeader sets Alt-Svc, then writes the header.
func (w *altSvcWriter) WriteHeader(code int) {
	if !w.wrote {
		w.fix()
		w.wrote = code >= 200 || code == http.StatusSwitchingProtocols
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write writes the header first if the handler did not.
func (w *altSvcWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Flush writes the header first if the handler did not, then flushes.
func (w *altSvcWriter) Flush() {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach Hijack, deadlines and the
// like on the writer underneath.
func (w *altSvcWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// fix drops the handler's Alt-Svc and, below HTTP/3, sets this server's.
func (w *altSvcWriter) fix() {
	hdr := w.ResponseWriter.Header()
	delete(hdr, "Alt-Svc")
	if w.h3 {
		return
	}
	if v := w.value(); v != "" {
		hdr["Alt-Svc"] = []string{v}
	}
}

var _ http.Flusher = (*altSvcWriter)(nil)
