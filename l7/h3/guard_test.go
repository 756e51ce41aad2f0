package h3

import (
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

// The early-data gate on its own: unsafe methods from early data get the
// gateway's JSON error with 425; safe ones go through marked Early-Data;
// requests after the handshake are not touched.
func TestGuardEarlyData(t *testing.T) {
	var seen string
	h := guardEarlyData(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = r.Header.Get("Early-Data") }))
	for _, c := range []struct {
		method   string
		complete bool
		status   int
		mark     string
	}{
		{"POST", false, http.StatusTooEarly, ""},
		{"DELETE", false, http.StatusTooEarly, ""},
		{"GET", false, http.StatusOK, "1"},
		{"HEAD", false, http.StatusOK, "1"},
		{"POST", true, http.StatusOK, ""},
	} {
		seen = "unset"
		r := httptest.NewRequest(c.method, "https://a.test/", nil)
		r.TLS = &tls.ConnectionState{HandshakeComplete: c.complete}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != c.status {
			t.Errorf("%s complete=%v: status %d, want %d", c.method, c.complete, w.Code, c.status)
		}
		if c.status == http.StatusTooEarly {
			var body struct {
				Error struct {
					Status        int
					Code, Message string
				}
			}
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error.Code != "TOO_EARLY" || body.Error.Status != 425 || w.Header().Get("Content-Type") != "application/json" {
				t.Errorf("%s: 425 body %q (%v)", c.method, w.Body.String(), err)
			}
			if seen != "unset" {
				t.Errorf("%s: the handler ran for a request in early data", c.method)
			}
			continue
		}
		if seen != c.mark {
			t.Errorf("%s complete=%v: Early-Data %q, want %q", c.method, c.complete, seen, c.mark)
		}
	}
}
