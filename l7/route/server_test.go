package route

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/bouncer-proxy/bouncer/configs"
)

// TestServerBypassAttempts sends raw request targets to a real loopback
// server that normalizes r.URL.EscapedPath() and matches, as the l7 server
// does: none of the spellings of /admin/... may reach the public route.
func TestServerBypassAttempts(t *testing.T) {
	tb := compileDefs(t, []def{
		{"public", configs.Match{Prefix: "/"}},
		{"admin", configs.Match{Prefix: "/admin/"}},
		{"secret", configs.Match{Template: "/secret/**"}},
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := NormalizePath(r.URL.EscapedPath())
		if err != nil {
			http.Error(w, "bad path", http.StatusBadRequest)
			return
		}
		name, _ := tb.Match(r.Host, p, r.Method, r.Header, r.URL.RawQuery)
		_, _ = io.WriteString(w, name)
	}))
	defer srv.Close()

	tests := []struct{ target, want string }{
		{"/admin/x", "admin"},
		{"//admin/x", "admin"},
		{"/x/../admin/y", "admin"},
		{"/./admin/", "admin"},
		{"/%61dmin/x", "admin"},
		{"/%2e/admin/x", "admin"},
		{"/x/%2E%2e/admin/x", "admin"},
		{"/admin%2fx", "public"}, // an escaped slash is not a separator
		{"/secret", "secret"},
		{"/public/../secret/..", "public"}, // resolves to "/"
		{"/%2e%2e/admin/x", "400"},
		{"/admin/%00", "400"},
		{"/admin/%zz", "400"},
	}
	for _, tt := range tests {
		if got := rawGet(t, srv.Listener.Addr().String(), tt.target); got != tt.want {
			t.Errorf("GET %s: got %q, want %q", tt.target, got, tt.want)
		}
	}
}

// rawGet sends one request with target exactly as given and returns the
// body, or the status code when it is not 200.
func rawGet(t *testing.T, addr, target string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, "GET "+target+" HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		return resp.Status[:3]
	}
	return string(body)
}
