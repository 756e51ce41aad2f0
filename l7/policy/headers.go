package policy

import (
	"net/http"

	"github.com/bouncer-proxy/bouncer/configs"
	"github.com/bouncer-proxy/bouncer/l7"
)

// headers applies a headers policy: request changes before the request
// goes on, response changes just before the response head is written.
func headers(c *configs.HeadersPolicy) func(http.Handler) http.Handler {
	var req, resp *l7.HeaderOps
	if c.Request != nil {
		req = l7.NewHeaderOps(c.Request)
	}
	if c.Response != nil {
		resp = l7.NewHeaderOps(c.Response)
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if req != nil {
				req.Apply(r.Header)
			}
			if resp != nil {
				w = &headerWriter{ResponseWriter: w, ops: resp}
			}
			next.ServeHTTP(w, r)
		})
	}
}

// headerWriter applies response header changes once, when the head is
// written (explicitly or by the first Write).
type headerWriter struct {
	http.ResponseWriter
	ops  *l7.HeaderOps
	done bool
}

func (w *headerWriter) WriteHeader(code int) {
	if !w.done && code >= 200 {
		w.done = true
		w.ops.Apply(w.ResponseWriter.Header())
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *headerWriter) Write(b []byte) (int, error) {
	if !w.done {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Flush passes a flush on, so streamed responses stay streamed.
func (w *headerWriter) Flush() {
	if !w.done {
		w.WriteHeader(http.StatusOK)
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *headerWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
