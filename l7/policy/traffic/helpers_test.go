package traffic

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"
)

// named answers its own name in the body and the X-Backend header.
func named(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Backend", name)
		_, _ = io.WriteString(w, name)
	})
}

// upstream starts a real loopback server that answers its name, and
// returns a tiny forwarding handler to it (as the gateway's proxy would be).
func upstream(t *testing.T, name string) http.Handler {
	t.Helper()
	srv := httptest.NewServer(named(name))
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(u) }}
}

// namedBackends maps each name to named(name).
func namedBackends(names ...string) map[string]http.Handler {
	m := make(map[string]http.Handler, len(names))
	for _, n := range names {
		m[n] = named(n)
	}
	return m
}

// serve runs h on r in process and returns the recorder.
func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// seen is what a recording handler saw of one request.
type seen struct {
	Method, Path, RawPath, Host string
	Header                      http.Header
	Body                        string
}

// recorder records every request it serves.
type recorder struct {
	mu   sync.Mutex
	reqs []seen
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, seen{r.Method, r.URL.Path, r.URL.RawPath, r.Host, r.Header.Clone(), string(b)})
	rc.mu.Unlock()
	_, _ = io.WriteString(w, "ok")
}

func (rc *recorder) last(t *testing.T) seen {
	t.Helper()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.reqs) == 0 {
		t.Fatal("recorder saw no request")
	}
	return rc.reqs[len(rc.reqs)-1]
}

// errorJSON decodes an l7.WriteError body.
func errorJSON(t *testing.T, body []byte) (status int, code, msg string) {
	t.Helper()
	var e struct {
		Error struct {
			Status  int
			Code    string
			Message string
		}
	}
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body %q: %v", body, err)
	}
	return e.Error.Status, e.Error.Code, e.Error.Message
}
