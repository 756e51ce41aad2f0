package policy

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/bouncer-proxy/bouncer/configs"
)

// TestHeadersPolicy: request changes reach the handler; response changes
// reach the client whether the handler writes a head, a body, or nothing.
func TestHeadersPolicy(t *testing.T) {
	wrap := headers(&configs.HeadersPolicy{
		Request:  &configs.HeaderChanges{Set: map[string]string{"X-In": "1"}, Remove: []string{"X-Secret"}},
		Response: &configs.HeaderChanges{Set: map[string]string{"X-Out": "1"}, Remove: []string{"Server"}},
	})
	for name, write := range map[string]func(http.ResponseWriter){
		"head":    func(w http.ResponseWriter) { w.WriteHeader(http.StatusAccepted) },
		"body":    func(w http.ResponseWriter) { _, _ = w.Write([]byte("x")) },
		"nothing": func(http.ResponseWriter) {},
	} {
		t.Run(name, func(t *testing.T) {
			var in http.Header
			h := wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				in = r.Header.Clone()
				w.Header().Set("Server", "upstream")
				write(w)
			}))
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("X-Secret", "s")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if in.Get("X-In") != "1" || in.Get("X-Secret") != "" {
				t.Errorf("request headers upstream: %v", in)
			}
			if rec.Header().Get("X-Out") != "1" || rec.Header().Get("Server") != "" {
				t.Errorf("response headers: %v", rec.Header())
			}
		})
	}
}
