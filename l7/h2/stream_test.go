package h2

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/net/http2"
)

// TestInformational: 1xx responses go out at once, before the final one.
func TestInformational(t *testing.T) {
	addr := serveLoopback(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "ok")
	})})
	c := dialRaw(t, addr)
	c.request(1, "GET", "/", true)
	var early http.Header
	for {
		f := c.must()
		if h, ok := f.(*http2.MetaHeadersFrame); ok && h.PseudoValue("status") == "103" {
			early = http.Header{}
			for _, hf := range h.RegularFields() {
				early.Add(hf.Name, hf.Value)
			}
			if h.StreamEnded() {
				t.Fatal("103 ended the stream")
			}
			break
		}
	}
	if early.Get("Link") != "</style.css>; rel=preload" || early.Get("Date") != "" {
		t.Errorf("103 fields %v", early)
	}
	r := c.readStream(1)
	if strings.Join(r.frames, ",") != "headers 200,data" || r.body.String() != "ok" || r.header.Get("Link") != "" {
		t.Errorf("after 103: %v %q %v", r.frames, r.body.String(), r.header)
	}
}

// TestInformationalThroughTransport: x/net's client sees the 103.
func TestInformationalThroughTransport(t *testing.T) {
	addr := serveLoopback(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusEarlyHints)
		_, _ = io.WriteString(w, "ok")
	})})
	client, _ := h2cClient(t)
	resp, err := client.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if body, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 || string(body) != "ok" {
		t.Errorf("got %d %q", resp.StatusCode, body)
	}
}

// TestExpectContinue: a request with Expect: 100-continue gets a 100
// when its handler reads the body, and none when it does not.
func TestExpectContinue(t *testing.T) {
	addr := serveLoopback(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/read" {
			b, _ := io.ReadAll(r.Body)
			_, _ = w.Write(b)
			return
		}
		w.WriteHeader(http.StatusRequestEntityTooLarge)
	})})
	t.Run("read", func(t *testing.T) {
		c := dialRaw(t, addr)
		c.request(1, "POST", "/read", false, "expect", "100-continue", "content-length", "5")
		if f, ok := c.must().(*http2.MetaHeadersFrame); !ok || f.PseudoValue("status") != "100" || f.StreamEnded() {
			t.Fatalf("first frame %v, want HEADERS 100", f)
		}
		c.data(1, true, "hello")
		if r := c.readStream(1); r.status != "200" || r.body.String() != "hello" {
			t.Errorf("got %v %q", r.frames, r.body.String())
		}
	})
	t.Run("not read", func(t *testing.T) {
		c := dialRaw(t, addr)
		c.request(1, "POST", "/reject", false, "expect", "100-continue", "content-length", "5")
		r := c.readStream(1)
		if got := strings.Join(r.frames, ","); got != "headers 413" {
			t.Errorf("frames %s, want a 413 and no 100", got)
		}
		// The response is complete while the request is not: the server
		// asks the client to stop sending (RFC 9113 8.1).
		if f, ok := c.must().(*http2.RSTStreamFrame); !ok || f.ErrCode != http2.ErrCodeNo {
			t.Errorf("then %v, want RST_STREAM NO_ERROR", f)
		}
	})
}

// TestMaxConcurrentStreams: the limit is advertised, a stream over it is
// refused, and the streams under it are served.
func TestMaxConcurrentStreams(t *testing.T) {
	release := make(chan struct{})
	addr := serveLoopback(t, &Server{MaxConcurrentStreams: 3, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
	})})
	c := dialRaw(t, addr)
	if !hasSetting(c.settings, http2.SettingMaxConcurrentStreams, 3) {
		t.Errorf("settings %v do not advertise 3 streams", c.settings)
	}
	for _, id := range []uint32{1, 3, 5, 7} {
		c.request(id, "GET", "/", true)
	}
	if r := c.readStream(7); !r.reset || r.rst != http2.ErrCodeRefusedStream {
		t.Errorf("stream 7: %v, want REFUSED_STREAM", r.frames)
	}
	close(release)
	for _, id := range []uint32{1, 3, 5} {
		if r := c.readStream(id); r.status != "200" {
			t.Errorf("stream %d: %v", id, r.frames)
		}
	}
	c.request(9, "GET", "/", true)
	if r := c.readStream(9); r.status != "200" {
		t.Errorf("stream 9 after the others ended: %v", r.frames)
	}
}

func hasSetting(ss []http2.Setting, id http2.SettingID, v uint32) bool {
	for _, s := range ss {
		if s.ID == id && s.Val == v {
			return true
		}
	}
	return false
}

// TestClientResetCancelsHandler: RST_STREAM from the client cancels the
// handler's context and fails its body reads; the connection goes on.
func TestClientResetCancelsHandler(t *testing.T) {
	started := make(chan struct{}, 1)
	ended := make(chan error, 1)
	addr := serveLoopback(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/wait" {
			return
		}
		started <- struct{}{}
		<-r.Context().Done()
		_, err := r.Body.Read(make([]byte, 1))
		ended <- errors.Join(r.Context().Err(), err)
	})})
	c := dialRaw(t, addr)
	c.request(1, "POST", "/wait", false)
	recv(t, started, "the handler to start")
	c.reset(1, http2.ErrCodeCancel)
	err := recv(t, ended, "the handler to see the reset")
	if !errors.Is(err, context.Canceled) || !errors.Is(err, errClientReset) {
		t.Errorf("handler saw %v, want context canceled and a failed body read", err)
	}
	c.request(3, "GET", "/next", true)
	if r := c.readStream(3); r.status != "200" {
		t.Errorf("the next stream: %v", r.frames)
	}
}

// TestHandlerPanic: a panic resets its stream with INTERNAL_ERROR and is
// logged, except http.ErrAbortHandler; the connection keeps serving.
func TestHandlerPanic(t *testing.T) {
	var logs syncBuffer
	addr := serveLoopback(t, &Server{
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/boom":
				panic("boom in handler")
			case "/abort":
				_, _ = io.WriteString(w, "partial")
				w.(http.Flusher).Flush()
				panic(http.ErrAbortHandler)
			}
		}),
	})
	c := dialRaw(t, addr)
	c.request(1, "GET", "/boom", true)
	if r := c.readStream(1); !r.reset || r.rst != http2.ErrCodeInternal {
		t.Errorf("panicking stream: %v, want RST_STREAM INTERNAL_ERROR", r.frames)
	}
	if l := logs.String(); !strings.Contains(l, "boom in handler") || !strings.Contains(l, "stream_test.go") {
		t.Errorf("log %q lacks the panic and its stack", l)
	}
	c.request(3, "GET", "/fine", true)
	if r := c.readStream(3); r.status != "200" {
		t.Errorf("the next stream: %v", r.frames)
	}
	before := logs.String()
	c.request(5, "GET", "/abort", true)
	if r := c.readStream(5); !r.reset || r.rst != http2.ErrCodeInternal || r.status != "200" {
		t.Errorf("aborted stream: %v, want its headers then RST_STREAM INTERNAL_ERROR", r.frames)
	}
	if logs.String() != before {
		t.Errorf("ErrAbortHandler was logged: %q", strings.TrimPrefix(logs.String(), before))
	}
}

// TestMaxHeaderBytes: a header list over the limit gets 431 and never
// reaches the handler, also when a single field is over it (which the
// Framer alone would make a connection error, ending every stream).
func TestMaxHeaderBytes(t *testing.T) {
	called := make(chan string, 2)
	addr := serveLoopback(t, &Server{MaxHeaderBytes: 1024, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		called <- r.URL.Path
	})})
	c := dialRaw(t, addr)
	if !hasSetting(c.settings, http2.SettingMaxHeaderListSize, 1024) {
		t.Errorf("settings %v do not advertise the header limit", c.settings)
	}
	c.request(1, "GET", "/big", true, "x-big", strings.Repeat("v", 2000))
	if r := c.readStream(1); r.status != "431" {
		t.Errorf("oversized headers: %v, want 431", r.frames)
	}
	c.request(3, "POST", "/big-with-body", false, "x-big", strings.Repeat("v", 2000))
	if r := c.readStream(3); r.status != "431" {
		t.Errorf("oversized headers of a request with a body: %v, want 431", r.frames)
	}
	v := strings.Repeat("v", 400)
	c.request(5, "GET", "/many-fields", true, "x-a", v, "x-b", v, "x-c", v)
	if r := c.readStream(5); r.status != "431" {
		t.Errorf("fields together over the limit: %v, want 431", r.frames)
	}
	c.request(7, "GET", "/small", true, "x-small", strings.Repeat("v", 500))
	if r := c.readStream(7); r.status != "200" {
		t.Errorf("headers under the limit: %v", r.frames)
	}
	if p := recv(t, called, "the handler"); p != "/small" {
		t.Errorf("the handler saw %s", p)
	}
}

// TestContentLengthMismatch: DATA that disagrees with content-length
// resets the stream with PROTOCOL_ERROR and fails the handler's read.
func TestContentLengthMismatch(t *testing.T) {
	readErr := make(chan error, 1)
	addr := serveLoopback(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		readErr <- err
	})})
	for _, tc := range []struct {
		name, length string
		data         []string
	}{
		{"shorter", "10", []string{"abc"}},
		{"longer", "2", []string{"abc"}},
		{"longer over two frames", "4", []string{"abc", "de"}},
		{"body on a zero length", "0", []string{"a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, addr)
			c.request(1, "POST", "/", false, "content-length", tc.length)
			for i, d := range tc.data {
				c.data(1, i == len(tc.data)-1, d)
			}
			if r := c.readStream(1); !r.reset || r.rst != http2.ErrCodeProtocol {
				t.Errorf("got %v, want RST_STREAM PROTOCOL_ERROR", r.frames)
			}
			if err := recv(t, readErr, "the handler"); err == nil {
				t.Error("the handler read the body without an error")
			}
		})
	}
}

// TestExpectContinueConcurrentRead: a body read on another goroutine (as
// a proxy's transport does) while the handler answers: no data race, and
// no 100 after the final response.
func TestExpectContinueConcurrentRead(t *testing.T) {
	addr := serveLoopback(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		read := make(chan struct{})
		go func() {
			defer close(read)
			_, _ = io.ReadAll(r.Body)
		}()
		w.WriteHeader(http.StatusUnauthorized)
		w.(http.Flusher).Flush()
		<-read
	})})
	for range 20 {
		c := dialRaw(t, addr)
		c.request(1, "POST", "/", false, "expect", "100-continue")
		f := c.must()
		h, ok := f.(*http2.MetaHeadersFrame)
		if !ok {
			t.Fatalf("first frame %v", f)
		}
		if h.PseudoValue("status") == "100" {
			h, ok = c.must().(*http2.MetaHeadersFrame)
		}
		if !ok || h.PseudoValue("status") != "401" {
			t.Fatalf("want an optional 100 then the 401, got %v", h)
		}
		c.data(1, true, "x")
		if r := c.readStream(1); len(r.frames) != 1 || (r.frames[0] != "data" && r.frames[0] != "rst") {
			t.Fatalf("after the 401: %v", r.frames)
		}
	}
}
