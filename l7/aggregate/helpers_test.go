package aggregate_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bouncer-proxy/bouncer/l7"
	"github.com/bouncer-proxy/bouncer/l7/aggregate"
)

// forwarder is a tiny stand-in for the proxy terminal: it sends the
// sub-request to a real loopback server and copies the answer back,
// recording itself in the request's l7.Info as the proxy does.
type forwarder struct {
	name, base string
	rt         http.RoundTripper
}

func (f forwarder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if info := l7.InfoFrom(r.Context()); info != nil {
		info.Upstream, info.Tries = f.name, info.Tries+1
	}
	out, err := http.NewRequestWithContext(r.Context(), r.Method, f.base+r.URL.RequestURI(), r.Body)
	if err != nil {
		l7.WriteError(w, r, l7.Wrap(err, http.StatusBadGateway, l7.CodeBadGateway, "bad request"))
		return
	}
	out.Header, out.ContentLength = r.Header.Clone(), r.ContentLength
	resp, err := f.rt.RoundTrip(out)
	if err != nil {
		status, code := http.StatusBadGateway, l7.CodeBadGateway
		if errors.Is(err, context.DeadlineExceeded) {
			status, code = http.StatusGatewayTimeout, l7.CodeTimeout
		}
		l7.WriteError(w, r, l7.Wrap(err, status, code, "upstream "+f.name+" failed"))
		return
	}
	defer resp.Body.Close()
	for k, vs := range resp.Header {
		w.Header()[k] = vs
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

// env holds a test's upstreams, exposed as aggregate targets.
type env struct {
	t       *testing.T
	rt      *http.Transport
	targets aggregate.Targets
}

func newEnv(t *testing.T) *env {
	rt := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(rt.CloseIdleConnections)
	return &env{t: t, rt: rt, targets: aggregate.Targets{}}
}

// upstream starts a loopback server running h and registers it as a
// target named name.
func (e *env) upstream(name string, h http.HandlerFunc) {
	srv := httptest.NewServer(h)
	e.t.Cleanup(srv.Close)
	e.targets[name] = forwarder{name: name, base: srv.URL, rt: e.rt}
}

// json registers an upstream answering body as JSON with status 200.
func (e *env) json(name, body string) {
	e.upstream(name, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, body)
	})
}

func (e *env) build(opts aggregate.Options) *aggregate.Aggregator {
	e.t.Helper()
	a, err := aggregate.New(opts, e.targets)
	if err != nil {
		e.t.Fatalf("New: %v", err)
	}
	return a
}

// call sends one client request through h with info in its context.
func call(t *testing.T, h http.Handler, target string, info *l7.Info) (int, map[string]any) {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, target, nil)
	if info != nil {
		r = r.WithContext(l7.WithInfo(r.Context(), info))
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
	var body map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("body %q: %v", w.Body.String(), err)
	}
	return w.Code, body
}

// jsonEqual compares v with the JSON text want.
func jsonEqual(t *testing.T, v any, want string) {
	t.Helper()
	var w any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want %q: %v", want, err)
	}
	got, _ := json.Marshal(v)
	norm, _ := json.Marshal(w)
	if string(got) != string(norm) {
		t.Errorf("got  %s\nwant %s", got, norm)
	}
}

// errorMessage is the message of an l7 JSON error body.
func errorMessage(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	s, _ := e["message"].(string)
	return s
}

// waitCtx blocks until ctx ends or a bound passes, so a test upstream can
// never hang a test.
func waitCtx(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
