package aggregate_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bouncer-proxy/bouncer/l7"
	"github.com/bouncer-proxy/bouncer/l7/aggregate"
)

// TestParallel proves independent calls run at once: each upstream waits
// until both have been reached, so a sequential run would fail them.
func TestParallel(t *testing.T) {
	e := newEnv(t)
	var arrived atomic.Int32
	both := make(chan struct{})
	barrier := func(name string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if arrived.Add(1) == 2 {
				close(both)
			}
			select {
			case <-both:
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, `{"from":"`+name+`"}`)
			case <-time.After(5 * time.Second):
				http.Error(w, "alone at the barrier", http.StatusInternalServerError)
			}
		}
	}
	e.upstream("a", barrier("a"))
	e.upstream("b", barrier("b"))
	a := e.build(aggregate.Options{Calls: []aggregate.Call{
		{Name: "first", Target: "a", Path: "/x"},
		{Name: "second", Target: "b", Path: "/y"},
	}})
	status, body := call(t, a, "/agg", nil)
	if status != http.StatusOK {
		t.Fatalf("status %d: %v", status, body)
	}
	jsonEqual(t, body, `{"first":{"from":"a"},"second":{"from":"b"}}`)
}

// TestDependency feeds fields of one call's result into the next one's
// path, query and body, and checks the Info folded back.
func TestDependency(t *testing.T) {
	e := newEnv(t)
	var userDone atomic.Bool
	e.upstream("users", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("ETag", `"v7"`)
		_, _ = io.WriteString(w, `{"id":7,"address":{"city":"Oslo"},"tags":["x","y"]}`)
		userDone.Store(true)
	})
	e.upstream("orders", func(w http.ResponseWriter, r *http.Request) {
		if !userDone.Load() {
			http.Error(w, "orders ran before users", http.StatusInternalServerError)
			return
		}
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"path": r.URL.Path, "city": r.URL.Query().Get("city"), "tag": r.URL.Query().Get("tag"),
			"etag": r.Header.Get("If-None-Match"), "body": json.RawMessage(b), "type": r.Header.Get("Content-Type"),
		})
	})
	a := e.build(aggregate.Options{Calls: []aggregate.Call{
		{Name: "orders", Target: "orders", Method: http.MethodPost, Path: "/users/{calls.user.body.id}/orders",
			Query:   map[string]string{"city": "{calls.user.body.address.city}", "tag": "{calls.user.body.tags.1}"},
			Headers: map[string]string{"If-None-Match": "{calls.user.header.ETag}"},
			Body:    `{"user": {calls.user.body.id}, "status": {calls.user.status}, "note": "for {calls.user.body.address.city}"}`},
		{Name: "user", Target: "users", Path: "/users/{query.id}", Fields: []string{"id"}},
	}})
	info := &l7.Info{RequestID: "rid-1"}
	status, body := call(t, a, "/agg?id=7", info)
	if status != http.StatusOK {
		t.Fatalf("status %d: %v", status, body)
	}
	jsonEqual(t, body, `{"orders":{"path":"/users/7/orders","city":"Oslo","tag":"y","etag":"\"v7\"",
		"body":{"user":7,"status":200,"note":"for Oslo"},"type":"application/json"},"user":{"id":7}}`)
	if info.Upstream != "orders,users" && info.Upstream != "users,orders" || info.Tries != 2 {
		t.Errorf("folded info: upstream %q tries %d", info.Upstream, info.Tries)
	}
}

// TestFailures covers a backend beyond its timeout, a failing one, an
// optional one and a dependent skipped, in both error modes.
func TestFailures(t *testing.T) {
	e := newEnv(t)
	e.json("ok", `{"fine":true}`)
	e.upstream("slow", func(w http.ResponseWriter, r *http.Request) { waitCtx(r.Context()) })
	e.upstream("broken", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "secret stack trace", http.StatusInternalServerError)
	})
	ok := aggregate.Call{Name: "ok", Target: "ok", Path: "/"}
	slow := aggregate.Call{Name: "slow", Target: "slow", Path: "/", Timeout: 50 * time.Millisecond}
	broken := aggregate.Call{Name: "broken", Target: "broken", Path: "/"}
	dependent := aggregate.Call{Name: "dependent", Target: "ok", Path: "/", After: []string{"broken"}}
	optional := broken
	optional.Optional = true
	tests := []struct {
		name    string
		onError string
		calls   []aggregate.Call
		status  int
		message string // l7 error message, when the whole fails
		want    string // JSON body, when it does not
	}{
		{"fail names the failed call", "", []aggregate.Call{ok, broken}, 502, "aggregate call broken failed: status 500", ""},
		{"fail on timeout is 504", "fail", []aggregate.Call{ok, slow}, 504, "aggregate call slow failed: timed out after 50ms", ""},
		{"fail prefers the cause over the skip", "fail", []aggregate.Call{dependent, broken}, 502, "aggregate call broken failed: status 500", ""},
		{"partial", "partial", []aggregate.Call{ok, slow, broken, dependent}, 200, "", `{"ok":{"fine":true},"_errors":{
			"slow":{"status":504,"message":"timed out after 50ms"},"broken":{"status":500,"message":"status 500"},
			"dependent":{"status":424,"message":"dependency broken failed"}}}`},
		{"optional failure does not fail", "fail", []aggregate.Call{ok, optional}, 200, "",
			`{"ok":{"fine":true},"_errors":{"broken":{"status":500,"message":"status 500"}}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := e.build(aggregate.Options{Calls: tc.calls, OnError: tc.onError})
			status, body := call(t, a, "/agg", nil)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %v", status, tc.status, body)
			}
			if tc.message != "" {
				if got := errorMessage(body); got != tc.message {
					t.Errorf("message %q, want %q", got, tc.message)
				}
				return
			}
			jsonEqual(t, body, tc.want)
		})
	}
}

// TestRequestTimeout ends the whole request at Options.Timeout, naming
// the call still running; the calls that had ended are kept in partial.
func TestRequestTimeout(t *testing.T) {
	e := newEnv(t)
	e.json("ok", `1`)
	e.upstream("slow", func(w http.ResponseWriter, r *http.Request) { waitCtx(r.Context()) })
	calls := []aggregate.Call{{Name: "ok", Target: "ok", Path: "/"}, {Name: "slow", Target: "slow", Path: "/"}}
	a := e.build(aggregate.Options{Calls: calls, Timeout: 50 * time.Millisecond})
	status, body := call(t, a, "/agg", nil)
	if status != http.StatusGatewayTimeout || errorMessage(body) != "aggregate call slow failed: request timed out after 50ms" {
		t.Errorf("fail mode: %d %v", status, body)
	}
	a = e.build(aggregate.Options{Calls: calls, Timeout: 50 * time.Millisecond, OnError: aggregate.OnErrorPartial})
	status, body = call(t, a, "/agg", nil)
	if status != http.StatusOK {
		t.Fatalf("partial: %d %v", status, body)
	}
	jsonEqual(t, body, `{"ok":1,"_errors":{"slow":{"status":504,"message":"request timed out after 50ms"}}}`)
}

// TestResults covers field filtering, merging and non-JSON answers.
func TestResults(t *testing.T) {
	e := newEnv(t)
	e.json("user", `{"id":1,"name":"Ada","address":{"city":"London","zip":"N1"},"secret":"x"}`)
	e.json("list", `[{"id":1,"x":2},{"id":3,"x":4},5]`)
	e.json("prefs", `{"name":"Countess","theme":"dark"}`)
	e.upstream("text", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, `{"not":"parsed"}`)
	})
	e.upstream("empty", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	// In process, so that no server sniffs a Content-Type for it.
	e.targets["untyped"] = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, `[1, 2]`) })
	user := aggregate.Call{Name: "user", Target: "user", Path: "/", Fields: []string{"id", "address.city", "missing.field"}}
	tests := []struct {
		name  string
		merge string
		calls []aggregate.Call
		want  string
	}{
		{"fields", "", []aggregate.Call{user, {Name: "list", Target: "list", Path: "/", Fields: []string{"id"}}},
			`{"user":{"id":1,"address":{"city":"London"}},"list":[{"id":1},{"id":3},5]}`},
		{"non-JSON and empty", "", []aggregate.Call{{Name: "text", Target: "text", Path: "/"},
			{Name: "empty", Target: "empty", Path: "/"}, {Name: "untyped", Target: "untyped", Path: "/"}},
			`{"text":"{\"not\":\"parsed\"}","empty":null,"untyped":[1,2]}`},
		{"merge", aggregate.MergeMerge, []aggregate.Call{{Name: "user", Target: "user", Path: "/", Fields: []string{"id", "name"}},
			{Name: "prefs", Target: "prefs", Path: "/"}, {Name: "list", Target: "list", Path: "/"}},
			`{"id":1,"name":"Countess","theme":"dark","list":[{"id":1,"x":2},{"id":3,"x":4},5]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := e.build(aggregate.Options{Calls: tc.calls, Merge: tc.merge})
			status, body := call(t, a, "/agg", nil)
			if status != http.StatusOK {
				t.Fatalf("status %d: %v", status, body)
			}
			jsonEqual(t, body, tc.want)
		})
	}
}

// TestOversized fails a call whose answer is over MaxResponseBytes.
func TestOversized(t *testing.T) {
	e := newEnv(t)
	e.json("big", `{"data":"`+strings.Repeat("x", 100)+`"}`)
	e.json("small", `{}`)
	a := e.build(aggregate.Options{MaxResponseBytes: 64, OnError: aggregate.OnErrorPartial, Calls: []aggregate.Call{
		{Name: "big", Target: "big", Path: "/"}, {Name: "small", Target: "small", Path: "/"},
	}})
	status, body := call(t, a, "/agg", nil)
	if status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	jsonEqual(t, body, `{"small":{},"_errors":{"big":{"status":502,"message":"response larger than 64 bytes"}}}`)
}

// TestHead answers a HEAD request with the headers only.
func TestHead(t *testing.T) {
	e := newEnv(t)
	e.json("one", `{"a":1}`)
	a := e.build(aggregate.Options{Calls: []aggregate.Call{{Name: "one", Target: "one", Path: "/"}}})
	w := httptest.NewRecorder()
	a.ServeHTTP(w, httptest.NewRequest(http.MethodHead, "/agg", nil))
	if w.Code != http.StatusOK || w.Body.Len() != 0 || w.Header().Get("Content-Length") != "16" {
		t.Errorf("HEAD: %d %q %q", w.Code, w.Body.String(), w.Header().Get("Content-Length"))
	}
}

// TestBadAnswers fails calls whose 2xx answer cannot be used, and keeps
// text that does not claim to be JSON as a string.
func TestBadAnswers(t *testing.T) {
	answer := func(ct, ce, body string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if ct != "" {
				w.Header().Set("Content-Type", ct)
			}
			if ce != "" {
				w.Header().Set("Content-Encoding", ce)
			}
			_, _ = io.WriteString(w, body)
		})
	}
	targets := aggregate.Targets{
		"badjson": answer("application/json; charset=utf-8", "", `{"a":`),
		"gzip":    answer("application/json", "gzip", "\x1f\x8b"),
		"text":    answer("", "", "hello"),
		"problem": answer("application/problem+json", "", `{"title":"x"}`),
	}
	var calls []aggregate.Call
	for _, name := range []string{"badjson", "gzip", "text", "problem"} {
		calls = append(calls, aggregate.Call{Name: name, Target: name, Path: "/", Fields: []string{"title"}})
		if name == "text" {
			calls[len(calls)-1].Fields = nil
		}
	}
	a, err := aggregate.New(aggregate.Options{Calls: calls, OnError: aggregate.OnErrorPartial}, targets)
	if err != nil {
		t.Fatal(err)
	}
	status, body := call(t, a, "/agg", nil)
	if status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	jsonEqual(t, body, `{"text":"hello","problem":{"title":"x"},"_errors":{
		"badjson":{"status":502,"message":"response is not valid JSON"},
		"gzip":{"status":502,"message":"response has content-encoding gzip"}}}`)
}
