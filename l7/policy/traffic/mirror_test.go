package traffic

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bouncer-proxy/bouncer/l7"
)

// echo answers the request body prefixed by "primary:".
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	_, _ = io.WriteString(w, "primary:"+string(b))
})

// shadowCh sends what the shadow saw, then waits for release (or the
// shadow's context) before returning.
func shadowCh(seenCh chan<- seen, release <-chan struct{}) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		seenCh <- seen{Method: r.Method, Path: r.URL.Path, Host: r.Host, Header: r.Header.Clone(), Body: string(b)}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
}

func newMirror(t *testing.T, o MirrorOptions, shadow http.Handler) *Mirror {
	t.Helper()
	m, err := NewMirror(o, shadow)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := m.Drain(ctx); err != nil {
			t.Errorf("drain: %v", err)
		}
	})
	return m
}

func post(t *testing.T, client *http.Client, url, body string) string {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("X-Trace", "t-1")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestMirrorCopiesAndDoesNotDelay: the shadow gets body and headers; the
// primary's answer arrives while the shadow is still blocked.
func TestMirrorCopiesAndDoesNotDelay(t *testing.T) {
	seenCh, release := make(chan seen, 1), make(chan struct{})
	m := newMirror(t, MirrorOptions{Percent: 100}, shadowCh(seenCh, release))
	front := httptest.NewServer(m.Wrap(echo))
	defer front.Close()

	if got := post(t, front.Client(), front.URL+"/orders", `{"id":7}`); got != `primary:{"id":7}` {
		t.Fatalf("primary answered %q", got)
	}
	s := <-seenCh // the shadow is now blocked until release
	if m.Stats().Mirrored != 1 {
		t.Errorf("stats = %+v", m.Stats())
	}
	close(release)
	host := strings.TrimPrefix(front.URL, "http://")
	wantHost := strings.Replace(host, ":", "-shadow:", 1)
	if s.Method != "POST" || s.Path != "/orders" || s.Body != `{"id":7}` || s.Host != wantHost ||
		s.Header.Get("X-Trace") != "t-1" || s.Header.Get(ShadowHeader) != "1" {
		t.Errorf("shadow saw %+v (want host %s)", s, wantHost)
	}
}

// TestMirrorOutlivesClient: the shadow's context survives the primary's
// end but carries the mirror timeout; its l7.Info is its own.
func TestMirrorOutlivesClient(t *testing.T) {
	primaryDone, verdict := make(chan struct{}), make(chan error, 1)
	shadow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-primaryDone
		_, hasDeadline := r.Context().Deadline()
		info := l7.InfoFrom(r.Context())
		switch {
		case r.Context().Err() != nil:
			verdict <- r.Context().Err()
		case !hasDeadline:
			verdict <- errors.New("no deadline")
		case info == nil || info.RequestID != "rid-1":
			verdict <- errors.New("info not carried")
		default:
			info.Upstream = "shadow-upstream"
			verdict <- nil
		}
	})
	m := newMirror(t, MirrorOptions{Percent: 100, Timeout: time.Minute}, shadow)
	info := &l7.Info{RequestID: "rid-1"}
	ctx, cancel := context.WithCancel(l7.WithInfo(context.Background(), info))
	r := httptest.NewRequest("GET", "/", nil).WithContext(ctx)
	serve(m.Wrap(echo), r)
	cancel() // the client goes away
	close(primaryDone)
	if err := <-verdict; err != nil {
		t.Fatal(err)
	}
	if err := m.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if info.Upstream != "" {
		t.Errorf("the shadow wrote into the primary's Info: %q", info.Upstream)
	}
}

func TestMirrorInFlightBound(t *testing.T) {
	seenCh, release := make(chan seen, 8), make(chan struct{})
	m := newMirror(t, MirrorOptions{Percent: 100, MaxInFlight: 2}, shadowCh(seenCh, release))
	h := m.Wrap(echo)
	for range 5 {
		if got := serve(h, httptest.NewRequest("POST", "/", strings.NewReader("x"))).Body.String(); got != "primary:x" {
			t.Fatalf("primary answered %q", got)
		}
	}
	<-seenCh
	<-seenCh
	if st := m.Stats(); st.Mirrored != 2 || st.Dropped != 3 {
		t.Errorf("stats = %+v, want 2 mirrored, 3 dropped", st)
	}
	close(release)
}

func TestMirrorBodyLimit(t *testing.T) {
	rc := &recorder{}
	m := newMirror(t, MirrorOptions{Percent: 100, MaxBodyBytes: 16}, rc)
	front := httptest.NewServer(m.Wrap(echo))
	defer front.Close()
	big := strings.Repeat("b", 100)
	tests := []struct {
		name string
		body io.Reader // a reader of unknown length makes the client send chunked
	}{
		{"known length", strings.NewReader(big)},
		{"chunked", io.MultiReader(strings.NewReader(big[:50]), strings.NewReader(big[50:]))},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := front.Client().Post(front.URL, "text/plain", tt.body)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != "primary:"+big {
				t.Errorf("primary body altered: %q", b)
			}
			if st := m.Stats(); st.Skipped != uint64(i+1) || st.Mirrored != 0 {
				t.Errorf("stats = %+v", st)
			}
		})
	}
	if got := post(t, front.Client(), front.URL, "small chunk"); got != "primary:small chunk" {
		t.Errorf("primary answered %q", got)
	}
	if err := m.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := rc.last(t); s.Body != "small chunk" || len(rc.reqs) != 1 {
		t.Errorf("shadow saw %d requests, last body %q", len(rc.reqs), s.Body)
	}
}

func TestMirrorFailures(t *testing.T) {
	tests := []struct {
		name   string
		shadow http.HandlerFunc
	}{
		{"5xx", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) }},
		{"panic", func(w http.ResponseWriter, r *http.Request) { panic(http.ErrAbortHandler) }},
		{"timeout", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMirror(t, MirrorOptions{Percent: 100, Timeout: 50 * time.Millisecond}, tt.shadow)
			if got := serve(m.Wrap(echo), httptest.NewRequest("GET", "/", nil)).Body.String(); got != "primary:" {
				t.Fatalf("primary answered %q", got)
			}
			if err := m.Drain(context.Background()); err != nil {
				t.Fatal(err)
			}
			if st := m.Stats(); st.Mirrored != 1 || st.Failed != 1 {
				t.Errorf("stats = %+v", st)
			}
		})
	}
}

// TestMirrorPercent: 0 copies nothing; 25 copies about a quarter of 4000
// (sd 27; ±200 is over 7 sd).
func TestMirrorPercent(t *testing.T) {
	for _, tt := range []struct {
		percent  float64
		min, max uint64
	}{{0, 0, 0}, {25, 800, 1200}, {100, 4000, 4000}} {
		m := newMirror(t, MirrorOptions{Percent: tt.percent, MaxInFlight: 4000},
			http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		h := m.Wrap(echo)
		for range 4000 {
			serve(h, httptest.NewRequest("GET", "/", nil))
		}
		st := m.Stats()
		if n := st.Mirrored + st.Dropped; n < tt.min || n > tt.max {
			t.Errorf("percent %v: %d of 4000 sampled (%+v)", tt.percent, n, st)
		}
	}
}

func TestMirrorDrainTimesOut(t *testing.T) {
	seenCh, release := make(chan seen, 1), make(chan struct{})
	m := newMirror(t, MirrorOptions{Percent: 100}, shadowCh(seenCh, release))
	serve(m.Wrap(echo), httptest.NewRequest("GET", "/", nil))
	<-seenCh
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := m.Drain(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("drain with a busy shadow = %v", err)
	}
	close(release)
}

func TestNewMirrorErrors(t *testing.T) {
	noop := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	tests := []struct {
		name   string
		opts   MirrorOptions
		shadow http.Handler
		want   string
	}{
		{"nil shadow", MirrorOptions{}, nil, "shadow handler is nil"},
		{"percent over", MirrorOptions{Percent: 101}, noop, "outside 0..100"},
		{"percent negative", MirrorOptions{Percent: -1}, noop, "outside 0..100"},
		{"negative timeout", MirrorOptions{Timeout: -1}, noop, "must not be negative"},
		{"negative body", MirrorOptions{MaxBodyBytes: -1}, noop, "must not be negative"},
	}
	for _, tt := range tests {
		if _, err := NewMirror(tt.opts, tt.shadow); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
	}
	m, err := NewMirror(MirrorOptions{Percent: 1}, noop)
	if err != nil || m.maxBody != DefaultMirrorMaxBody || m.timeout != DefaultMirrorTimeout ||
		cap(m.slots) != DefaultMirrorMaxInFlight {
		t.Errorf("defaults not applied: %+v, %v", m, err)
	}
}

func TestShadowHost(t *testing.T) {
	for in, want := range map[string]string{
		"api.example.com":      "api.example.com-shadow",
		"api.example.com:8080": "api.example.com-shadow:8080",
		"[::1]:8080":           "[::1]-shadow:8080",
		"[::1]":                "[::1]-shadow",
		"":                     "",
	} {
		if got := shadowHost(in); got != want {
			t.Errorf("shadowHost(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMirrorKeepHost(t *testing.T) {
	seenCh := make(chan seen, 1)
	release := make(chan struct{})
	close(release)
	m := newMirror(t, MirrorOptions{Percent: 100, KeepHost: true}, shadowCh(seenCh, release))
	r := httptest.NewRequest("GET", "http://api.example.com:8080/", nil)
	serve(m.Wrap(echo), r)
	if s := <-seenCh; s.Host != "api.example.com:8080" || s.Header.Get(ShadowHeader) != "1" {
		t.Errorf("shadow saw host %q, header %q", s.Host, s.Header.Get(ShadowHeader))
	}
}

// brokenBody yields some bytes, then fails, as a client that disconnects.
type brokenBody struct{ sent bool }

func (b *brokenBody) Read(p []byte) (int, error) {
	if b.sent {
		return 0, errors.New("client went away")
	}
	b.sent = true
	return copy(p, "part"), nil
}

func (b *brokenBody) Close() error { return nil }

func TestMirrorBodyReadError(t *testing.T) {
	m := newMirror(t, MirrorOptions{Percent: 100}, noop)
	r := httptest.NewRequest("POST", "/", nil)
	r.Body, r.ContentLength = &brokenBody{}, -1
	var got string
	var gotErr error
	serve(m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		got, gotErr = string(b), err
	})), r)
	if got != "part" || gotErr == nil {
		t.Errorf("primary read %q, %v; want the bytes read ahead, then the error", got, gotErr)
	}
	if st := m.Stats(); st.Failed != 1 || st.Mirrored != 0 {
		t.Errorf("stats = %+v", st)
	}
}

// TestMirrorStreamedBodyNotHeldUp: a body of unknown length is not read
// ahead. A client that sends part of its body and waits for the answer's
// head before sending the rest (a bidirectional stream) gets it, and the
// shadow then gets the whole body once the primary has read it.
func TestMirrorStreamedBodyNotHeldUp(t *testing.T) {
	rc := &recorder{}
	m := newMirror(t, MirrorOptions{Percent: 100}, rc)
	front := httptest.NewServer(m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).EnableFullDuplex() // read the body after the head, as Bouncer's h1 server allows
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		b, _ := io.ReadAll(r.Body)
		_, _ = io.WriteString(w, "primary:"+string(b))
	})))
	defer front.Close()

	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", front.URL+"/stream", pr) // unknown length: chunked
	type answer struct {
		resp *http.Response
		err  error
	}
	got := make(chan answer, 1)
	go func() {
		resp, err := front.Client().Do(req)
		got <- answer{resp, err}
	}()
	if _, err := io.WriteString(pw, "first,"); err != nil {
		t.Fatal(err)
	}
	var a answer
	select {
	case a = <-got:
	case <-time.After(10 * time.Second):
		_ = pw.CloseWithError(errors.New("test gave up"))
		t.Fatal("no response head while the body is still open: the mirror held the primary up")
	}
	if a.err != nil {
		t.Fatal(a.err)
	}
	defer a.resp.Body.Close()
	_, _ = io.WriteString(pw, "second")
	pw.Close()
	b, _ := io.ReadAll(a.resp.Body)
	if string(b) != "primary:first,second" {
		t.Errorf("primary answered %q", b)
	}
	if err := m.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := rc.last(t); s.Body != "first,second" || s.Path != "/stream" {
		t.Errorf("shadow saw %+v", s)
	}
	if st := m.Stats(); st.Mirrored != 1 || st.Failed != 0 {
		t.Errorf("stats = %+v", st)
	}
}

// TestMirrorStreamedBodyUnread: a primary that never reads a body of
// unknown length sends no copy and frees its slot when it returns.
func TestMirrorStreamedBodyUnread(t *testing.T) {
	rc := &recorder{}
	m := newMirror(t, MirrorOptions{Percent: 100, MaxInFlight: 1}, rc)
	h := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	for range 3 {
		r := httptest.NewRequest("POST", "/", nil)
		r.Body, r.ContentLength = io.NopCloser(strings.NewReader("never read")), -1
		serve(h, r)
	}
	if st := m.Stats(); st.Failed != 3 || st.Dropped != 0 || st.Mirrored != 0 {
		t.Errorf("stats = %+v, want 3 failed and no slot kept", st)
	}
}
