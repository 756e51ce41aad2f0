package aggregate_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bouncer-proxy/bouncer/l7"
	"github.com/bouncer-proxy/bouncer/l7/aggregate"
)

// echo answers with what the sub-request carried.
func echo(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	if len(b) == 0 {
		b = []byte("null")
	}
	hdr := map[string]string{}
	for k := range r.Header {
		hdr[k] = r.Header.Get(k)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"method": r.Method, "path": r.URL.EscapedPath(), "query": r.URL.RawQuery,
		"header": hdr, "body": json.RawMessage(b),
	})
}

// TestEscaping inserts a hostile client value into a path, a query
// value, a header and a JSON body, in and out of strings.
func TestEscaping(t *testing.T) {
	e := newEnv(t)
	e.upstream("echo", echo)
	a := e.build(aggregate.Options{Calls: []aggregate.Call{{
		Name: "c", Target: "echo", Method: http.MethodPut, Path: "/items/{query.name}/x",
		Query:   map[string]string{"q": "pre {query.name}", "gone": "{query.nope}"},
		Headers: map[string]string{"X-Name": "{query.name}", "Content-Type": "application/merge-patch+json"},
		Body:    `{"v": {query.name}, "s": "<{query.name}>", "absent": {query.nope}, "in": "[{query.nope}] {x}"}`,
	}}})
	v := "a/b c?\"&x=1\\\r\nX-Evil: 1 é"
	status, body := call(t, a, "/agg?"+url.Values{"name": {v}}.Encode(), nil)
	if status != http.StatusOK {
		t.Fatalf("status %d: %v", status, body)
	}
	got := body["c"].(map[string]any)
	hdr := got["header"].(map[string]any)
	wantQuery := url.Values{"q": {"pre " + v}}.Encode()
	switch {
	case got["path"] != "/items/"+url.PathEscape(v)+"/x":
		t.Errorf("path %v", got["path"])
	case got["query"] != wantQuery:
		t.Errorf("query %v, want %v", got["query"], wantQuery)
	case hdr["X-Name"] != "a/b c?\"&x=1\\X-Evil: 1 é" || hdr["X-Evil"] != nil:
		t.Errorf("header %q", hdr)
	case hdr["Content-Type"] != "application/merge-patch+json" || got["method"] != "PUT":
		t.Errorf("content type %v, method %v", hdr["Content-Type"], got["method"])
	}
	want, _ := json.Marshal(map[string]any{"v": v, "s": "<" + v + ">", "absent": nil, "in": "[] {x}"})
	jsonEqual(t, got["body"], string(want))

	status, body = call(t, a, "/agg?name=..", nil)
	if status != http.StatusBadGateway || errorMessage(body) != `aggregate call c failed: {query.name}: path value ".." not allowed` {
		t.Errorf("dot-dot: %d %v", status, body)
	}
}

// TestIdentity checks identity placeholders, route variables and which
// headers reach the backend.
func TestIdentity(t *testing.T) {
	e := newEnv(t)
	e.upstream("echo", echo)
	c := aggregate.Call{Name: "c", Target: "echo", Path: "/u/{path.id}",
		Query: map[string]string{"sub": "{identity.claims.sub}", "m": "{identity.method}", "s": "{identity.subject}"},
		Headers: map[string]string{"X-Consumer": "{identity.consumer}", "X-Org": "{identity.claims.org.id}",
			"X-Plan": "{identity.metadata.plan}", "X-Tenant": "{header.x-tenant}", "X-User": "spoofed"}}
	id := &l7.Identity{Method: "jwt", Consumer: "acme", Subject: "u1",
		Claims:   map[string]any{"sub": "u1", "org": map[string]any{"id": float64(5)}},
		Metadata: map[string]string{"plan": "gold"}, Forward: http.Header{"X-User": {"u1"}}}
	for _, viaMux := range []bool{false, true} {
		var h http.Handler
		if viaMux {
			mux := http.NewServeMux()
			mux.Handle("GET /users/{id}", e.build(aggregate.Options{Calls: []aggregate.Call{c}}))
			h = mux
		} else {
			h = e.build(aggregate.Options{Calls: []aggregate.Call{c}, RequestIDHeader: "x-trace",
				PathVars: func(*http.Request) map[string]string { return map[string]string{"id": "9"} }})
		}
		r := httptest.NewRequest(http.MethodGet, "/users/9", nil)
		r.Header.Set("Authorization", "Bearer secret")
		r.Header.Set("X-Tenant", "t1")
		r = r.WithContext(l7.WithInfo(r.Context(), &l7.Info{RequestID: "req-42", Identity: id}))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		var body struct{ C map[string]any }
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || w.Code != http.StatusOK {
			t.Fatalf("mux %v: %d %s", viaMux, w.Code, w.Body)
		}
		ridHeader := "X-Request-Id"
		if !viaMux {
			ridHeader = "X-Trace"
		}
		jsonEqual(t, body.C["header"], `{"Accept-Encoding":"gzip","User-Agent":"Go-http-client/1.1","`+ridHeader+`":"req-42",
			"X-Consumer":"acme","X-Org":"5","X-Plan":"gold","X-Tenant":"t1","X-User":"u1"}`)
		if body.C["path"] != "/u/9" || body.C["query"] != "m=jwt&s=u1&sub=u1" {
			t.Errorf("mux %v: path %v query %v", viaMux, body.C["path"], body.C["query"])
		}
	}
}

// TestRetries retries 5xx answers of idempotent calls only.
func TestRetries(t *testing.T) {
	tests := []struct {
		name     string
		call     aggregate.Call
		status   int
		wantHits int32
	}{
		{"GET is retried", aggregate.Call{Method: http.MethodGet, Retries: 2}, 200, 3},
		{"retries run out", aggregate.Call{Method: http.MethodGet, Retries: 1}, 502, 2},
		{"POST is not", aggregate.Call{Method: http.MethodPost, Retries: 2}, 502, 1},
		{"POST when stated", aggregate.Call{Method: http.MethodPost, Retries: 2, RetryUnsafe: true}, 200, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			var hits atomic.Int32
			e.upstream("flaky", func(w http.ResponseWriter, r *http.Request) {
				if hits.Add(1) < 3 {
					w.WriteHeader(http.StatusServiceUnavailable)
					return
				}
				_, _ = io.WriteString(w, `"up"`)
			})
			tc.call.Name, tc.call.Target, tc.call.Path = "flaky", "flaky", "/"
			a := e.build(aggregate.Options{Calls: []aggregate.Call{tc.call}})
			status, body := call(t, a, "/agg", nil)
			if status != tc.status || hits.Load() != tc.wantHits {
				t.Errorf("status %d hits %d, want %d %d: %v", status, hits.Load(), tc.status, tc.wantHits, body)
			}
		})
	}
}

// TestBreaker opens after BreakerThreshold consecutive failures, fails
// fast without reaching the backend, and closes after the cooldown.
func TestBreaker(t *testing.T) {
	e := newEnv(t)
	var hits atomic.Int32
	var healthy atomic.Bool
	e.upstream("b", func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if !healthy.Load() {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, `{}`)
	})
	var now atomic.Int64
	now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	a := e.build(aggregate.Options{Calls: []aggregate.Call{{Name: "b", Target: "b", Path: "/"}},
		BreakerThreshold: 2, BreakerCooldown: time.Minute, Now: clock, OnError: aggregate.OnErrorPartial})
	steps := []struct {
		advance time.Duration
		healthy bool
		hits    int32
		message string // "" for success
	}{
		{0, false, 1, "status 500"},
		{0, false, 2, "status 500"},
		{0, false, 2, "circuit open"},
		{59 * time.Second, true, 2, "circuit open"},
		{2 * time.Second, false, 3, "status 500"}, // half-open trial fails: open again
		{30 * time.Second, true, 3, "circuit open"},
		{31 * time.Second, true, 4, ""}, // the trial succeeds: closed
		{0, true, 5, ""},
	}
	for i, s := range steps {
		now.Add(int64(s.advance))
		healthy.Store(s.healthy)
		_, body := call(t, a, "/agg", nil)
		msg := ""
		if errs, ok := body["_errors"].(map[string]any); ok {
			msg = errs["b"].(map[string]any)["message"].(string)
		}
		if msg != s.message || hits.Load() != s.hits {
			t.Errorf("step %d: message %q hits %d, want %q %d", i, msg, hits.Load(), s.message, s.hits)
		}
	}
}

// TestBreakerKeptAcrossReload: an Aggregator built with Previous keeps
// the open breaker of a call with the same name, target and settings;
// a call whose settings changed starts closed.
func TestBreakerKeptAcrossReload(t *testing.T) {
	e := newEnv(t)
	var hits atomic.Int32
	e.upstream("b", func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
	})
	opts := func(threshold int, prev *aggregate.Aggregator) aggregate.Options {
		return aggregate.Options{Calls: []aggregate.Call{{Name: "b", Target: "b", Path: "/"}},
			BreakerThreshold: threshold, BreakerCooldown: time.Hour, OnError: aggregate.OnErrorPartial, Previous: prev}
	}
	message := func(a *aggregate.Aggregator) string {
		_, body := call(t, a, "/agg", nil)
		errs, _ := body["_errors"].(map[string]any)
		b, _ := errs["b"].(map[string]any)
		m, _ := b["message"].(string)
		return m
	}
	first := e.build(opts(1, nil))
	if m := message(first); m != "status 500" {
		t.Fatalf("first call: %q", m)
	}
	same := e.build(opts(1, first))
	if m := message(same); m != "circuit open" || hits.Load() != 1 {
		t.Errorf("after a reload with the same settings: %q, %d hits; want the breaker still open", m, hits.Load())
	}
	changed := e.build(opts(2, same))
	if m := message(changed); m != "status 500" || hits.Load() != 2 {
		t.Errorf("after a reload with another threshold: %q, %d hits; want a closed breaker", m, hits.Load())
	}
}

// TestObserve reports each attempted call's status; skipped calls are not.
func TestObserve(t *testing.T) {
	e := newEnv(t)
	e.json("ok", `{}`)
	e.upstream("bad", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNotFound) })
	var mu sync.Mutex
	seen := map[string]int{}
	a := e.build(aggregate.Options{OnError: aggregate.OnErrorPartial,
		Observe: func(call string, status int, d time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			seen[call] = status
		},
		Calls: []aggregate.Call{{Name: "ok", Target: "ok", Path: "/"}, {Name: "bad", Target: "bad", Path: "/"},
			{Name: "after", Target: "ok", Path: "/", After: []string{"bad"}}}})
	call(t, a, "/agg", nil)
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 || seen["ok"] != 200 || seen["bad"] != 404 {
		t.Errorf("observed %v", seen)
	}
}

// TestTargetPanics fails the call, not the process.
func TestTargetPanics(t *testing.T) {
	targets := aggregate.Targets{"boom": http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("boom")
	})}
	a, err := aggregate.New(aggregate.Options{Calls: []aggregate.Call{{Name: "c", Target: "boom", Path: "/"}}}, targets)
	if err != nil {
		t.Fatal(err)
	}
	status, body := call(t, a, "/agg", nil)
	if status != http.StatusBadGateway || errorMessage(body) != "aggregate call c failed: target failed" {
		t.Errorf("%d %v", status, body)
	}
}

// TestClientGone writes nothing when the client left.
func TestClientGone(t *testing.T) {
	e := newEnv(t)
	e.upstream("slow", func(w http.ResponseWriter, r *http.Request) { waitCtx(r.Context()) })
	a := e.build(aggregate.Options{Calls: []aggregate.Call{{Name: "c", Target: "slow", Path: "/"}}})
	ctx, cancel := context.WithCancel(context.Background())
	r := httptest.NewRequest(http.MethodGet, "/agg", nil).WithContext(ctx)
	w := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.ServeHTTP(w, r)
	}()
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("ServeHTTP did not return after the client left")
	}
	if w.Body.Len() != 0 || len(w.Header()) != 0 {
		t.Errorf("wrote %q %v", w.Body.String(), w.Header())
	}
}

// TestOuterDeadline ends calls at a deadline the request already had,
// answering 504, and fails a call whose dependency lacks a field.
func TestOuterDeadline(t *testing.T) {
	e := newEnv(t)
	e.upstream("slow", func(w http.ResponseWriter, r *http.Request) { waitCtx(r.Context()) })
	e.json("user", `{"id":1}`)
	a := e.build(aggregate.Options{Calls: []aggregate.Call{{Name: "c", Target: "slow", Path: "/"}}})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	w := httptest.NewRecorder()
	a.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/agg", nil).WithContext(ctx))
	var body map[string]any
	_ = json.Unmarshal(w.Body.Bytes(), &body)
	if w.Code != http.StatusGatewayTimeout || errorMessage(body) != "aggregate call c failed: request timed out" {
		t.Errorf("deadline: %d %s", w.Code, w.Body)
	}

	a = e.build(aggregate.Options{Calls: []aggregate.Call{{Name: "user", Target: "user", Path: "/"},
		{Name: "next", Target: "user", Path: "/{calls.user.body.team.id}"}}})
	status, body := call(t, a, "/agg", nil)
	if status != http.StatusBadGateway || errorMessage(body) != "aggregate call next failed: {calls.user.body.team.id}: no such value" {
		t.Errorf("missing field: %d %v", status, body)
	}
}
