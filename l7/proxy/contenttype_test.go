package proxy_test

import (
	"net/http"
	"testing"
)

// TestNoContentTypeSniffing: a response without Content-Type reaches the
// client without one; the gateway must not guess a type the upstream did
// not send (a guessed text/html could turn data into a page).
func TestNoContentTypeSniffing(t *testing.T) {
	b := newBackend(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header()["Content-Type"] = nil // the backend's own server must not sniff either
		_, _ = w.Write([]byte("<html><script>alert(1)</script></html>"))
	})
	g := startGateway(t, simpleConfig([]string{b.Addr}, "", ""))
	for _, c := range []*http.Client{newClient(t), newH2CClient(t)} {
		r := get(t, c, g.URL+"/x")
		if r.Status != http.StatusOK {
			t.Fatalf("status %d", r.Status)
		}
		if ct, ok := r.Header["Content-Type"]; ok {
			t.Errorf("Content-Type %q was added to a response that had none", ct)
		}
	}
}
