package h2

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// TestShutdown: in-flight streams finish, GOAWAY names the last stream,
// later streams are not served, the connection closes after its last
// stream, and connections arriving later are closed at once.
func TestShutdown(t *testing.T) {
	started := make(chan string, 4)
	release := make(chan struct{})
	srv := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- r.URL.Path
		<-release
		_, _ = io.WriteString(w, "done "+r.URL.Path)
	})}
	addr := serveLoopback(t, srv)
	c := dialRaw(t, addr)
	c.request(1, "GET", "/first", true)
	c.request(3, "GET", "/second", true)
	recv(t, started, "the first handler")
	recv(t, started, "the second handler")
	srv.Shutdown()
	g := c.goAway()
	if g.ErrCode != http2.ErrCodeNo || g.LastStreamID != 3 {
		t.Errorf("GOAWAY %v last stream %d, want NO_ERROR and 3", g.ErrCode, g.LastStreamID)
	}
	c.request(5, "GET", "/late", true)
	close(release)
	for _, id := range []uint32{1, 3} {
		if r := c.readStream(id); r.status != "200" || r.reset {
			t.Errorf("in-flight stream %d: %v", id, r.frames)
		}
	}
	if late := c.waitClosed(5); len(late) != 0 {
		t.Errorf("a stream above GOAWAY's got %v", late)
	}
	select {
	case p := <-started:
		t.Errorf("handler ran for %s after GOAWAY", p)
	default:
	}
	late := dialRaw(t, addr)
	if g := late.goAway(); g.ErrCode != http2.ErrCodeNo || g.LastStreamID != 0 {
		t.Errorf("a connection after Shutdown: GOAWAY %v last stream %d", g.ErrCode, g.LastStreamID)
	}
	late.request(1, "GET", "/after", true)
	if frames := late.waitClosed(1); len(frames) != 0 {
		t.Errorf("a connection after Shutdown served a stream: %v", frames)
	}
}

// TestShutdownThroughTransport: a request in flight through x/net's
// client completes after Shutdown.
func TestShutdownThroughTransport(t *testing.T) {
	inFlight := make(chan struct{})
	release := make(chan struct{})
	srv := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(inFlight)
			<-release
		}
		_, _ = io.WriteString(w, "ok")
	})}
	addr := serveLoopback(t, srv)
	client, _ := h2cClient(t)
	type result struct {
		body string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := client.Get("http://" + addr + "/slow")
		if err != nil {
			done <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		done <- result{string(b), err}
	}()
	recv(t, inFlight, "the request to reach its handler")
	srv.Shutdown()
	close(release)
	if r := recv(t, done, "the in-flight response"); r.err != nil || r.body != "ok" {
		t.Errorf("in-flight request: %q, %v", r.body, r.err)
	}
}

// TestIdleTimeout: a connection without streams for IdleTimeout is sent
// GOAWAY and closed; one with a stream longer than that is not.
func TestIdleTimeout(t *testing.T) {
	const idle = 100 * time.Millisecond
	addr := serveLoopback(t, &Server{IdleTimeout: idle, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/long" {
			// Outlive the idle timeout, the behaviour under test.
			<-time.After(3 * idle)
		}
		_, _ = io.WriteString(w, "ok")
	})})
	c := dialRaw(t, addr)
	c.request(1, "GET", "/long", true)
	if r := c.readStream(1); r.status != "200" || r.body.String() != "ok" {
		t.Fatalf("a stream longer than the idle timeout: %v", r.frames)
	}
	c.request(3, "GET", "/", true)
	c.readStream(3)
	begin := time.Now()
	g := c.goAway()
	if g.ErrCode != http2.ErrCodeNo || g.LastStreamID != 3 {
		t.Errorf("GOAWAY %v last stream %d", g.ErrCode, g.LastStreamID)
	}
	if waited := time.Since(begin); waited > testTimeout/2 {
		t.Errorf("GOAWAY after %v", waited)
	}
	c.waitClosed(0)
}

// TestIdleTimeoutBeforePreface: a connection that never sends its preface
// is closed after IdleTimeout, unanswered; one that sends it is served.
func TestIdleTimeoutBeforePreface(t *testing.T) {
	const idle = 100 * time.Millisecond
	addr := serveLoopback(t, &Server{IdleTimeout: idle, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	})})
	silent, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	_ = silent.SetDeadline(time.Now().Add(testTimeout))
	begin := time.Now()
	if got, err := io.ReadAll(silent); err != nil || len(got) != 0 {
		t.Fatalf("silent connection: got %q, %v; want it closed unanswered", got, err)
	}
	if waited := time.Since(begin); waited < idle/2 {
		t.Errorf("closed after %v, before the idle timeout", waited)
	}
	c := dialRaw(t, addr)
	c.request(1, "GET", "/", true)
	if r := c.readStream(1); r.status != "200" || r.body.String() != "ok" {
		t.Fatalf("served connection: %v", r.frames)
	}
}

// TestRapidReset: a client that opens and resets streams faster than
// their (slow) handlers end is sent GOAWAY ENHANCE_YOUR_CALM once
// handlerSlack x MaxConcurrentStreams handlers run.
func TestRapidReset(t *testing.T) {
	const maxStreams = 4
	release := make(chan struct{})
	started := make(chan struct{}, handlerSlack*maxStreams+8)
	addr := serveLoopback(t, &Server{MaxConcurrentStreams: maxStreams, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-release // ignores its context, like a slow upstream call
	})})
	defer close(release)
	c := dialRaw(t, addr)
	id := uint32(1)
	for range handlerSlack * maxStreams {
		c.request(id, "GET", "/", true)
		c.reset(id, http2.ErrCodeCancel)
		id += 2
	}
	// The handlers so far are all running.
	for range handlerSlack * maxStreams {
		recv(t, started, "a handler")
	}
	c.request(id, "GET", "/", true)
	g := c.goAway()
	if g.ErrCode != http2.ErrCodeEnhanceYourCalm {
		t.Errorf("GOAWAY %v, want ENHANCE_YOUR_CALM", g.ErrCode)
	}
	c.waitClosed(0)
	if len(started) != 0 {
		t.Errorf("%d more handlers started", len(started))
	}
}

// TestResetsUnderTheLimitAreServed: streams reset one after another,
// whose handlers end when canceled, never trip the rapid reset guard.
func TestResetsUnderTheLimitAreServed(t *testing.T) {
	ended := make(chan struct{})
	addr := serveLoopback(t, &Server{MaxConcurrentStreams: 2, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
		ended <- struct{}{}
	})})
	c := dialRaw(t, addr)
	id := uint32(1)
	for range 4 * handlerSlack * 2 {
		c.request(id, "GET", "/", true)
		c.reset(id, http2.ErrCodeCancel)
		recv(t, ended, "the canceled handler")
		id += 2
	}
	// A PING round trip: every frame before it has been handled.
	if err := c.fr.WritePing(false, [8]byte{1}); err != nil {
		t.Fatal(err)
	}
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		if g, ok := f.(*http2.GoAwayFrame); ok {
			t.Fatalf("GOAWAY %v", g.ErrCode)
		}
		if p, ok := f.(*http2.PingFrame); ok && p.IsAck() {
			break
		}
	}
}

// TestShutdownBeforePreface: a connection shut down while its preface is
// still on the way gets SETTINGS first all the same (RFC 9113 3.4), then
// GOAWAY or a close.
func TestShutdownBeforePreface(t *testing.T) {
	entered := make(chan struct{})
	srv := &Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			close(entered)
			return ctx
		},
	}
	client, server := net.Pipe()
	defer client.Close()
	served := make(chan struct{})
	go func() {
		defer close(served)
		srv.ServeConn(server)
	}()
	recv(t, entered, "ServeConn to start")
	go srv.Shutdown()
	_ = client.SetDeadline(time.Now().Add(testTimeout))
	go func() { _, _ = io.WriteString(client, http2.ClientPreface) }()
	fr := http2.NewFramer(io.Discard, client)
	if f, err := fr.ReadFrame(); err == nil {
		if sf, ok := f.(*http2.SettingsFrame); !ok || sf.IsAck() {
			t.Errorf("first frame %v, want SETTINGS", f)
		}
	}
	_ = client.Close()
	recv(t, served, "ServeConn to return")
}

// TestShutdownDoesNotWait: Shutdown returns at once even when a
// connection's peer has stopped reading and its writes block.
func TestShutdownDoesNotWait(t *testing.T) {
	srv := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})}
	client, server := net.Pipe()
	served := make(chan struct{})
	go func() {
		defer close(served)
		srv.ServeConn(server)
	}()
	_ = client.SetDeadline(time.Now().Add(testTimeout))
	fr := http2.NewFramer(client, client)
	go func() { _, _ = io.WriteString(client, http2.ClientPreface) }()
	for range 2 { // SETTINGS, WINDOW_UPDATE
		if _, err := fr.ReadFrame(); err != nil {
			t.Fatal(err)
		}
	}
	// The server acknowledges these SETTINGS, and blocks: nobody reads.
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	returned := make(chan struct{})
	go func() {
		srv.Shutdown()
		close(returned)
	}()
	select {
	case <-returned:
	case <-time.After(testTimeout / 2):
		t.Error("Shutdown blocked on a connection that does not read")
	}
	_ = client.Close()
	recv(t, served, "ServeConn to return")
	recv(t, returned, "Shutdown to return")
}

// TestStalledWindow: a client that keeps its flow-control window shut
// does not hold a handler for ever: after IdleTimeout without window the
// stream is reset (CANCEL) and the handler's context ends.
func TestStalledWindow(t *testing.T) {
	const idle = 100 * time.Millisecond
	done := make(chan error, 1)
	addr := serveLoopback(t, &Server{IdleTimeout: idle, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "a body the client never lets through")
		err := http.NewResponseController(w).Flush()
		<-r.Context().Done()
		done <- err
	})})
	c := dialRaw(t, addr)
	if err := c.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0}); err != nil {
		t.Fatal(err)
	}
	c.request(1, "GET", "/", true)
	r := c.readStream(1)
	if !r.reset || r.rst != http2.ErrCodeCancel || r.status != "200" || r.body.Len() != 0 {
		t.Fatalf("stream: status %q reset %v (%v), body %q, frames %v", r.status, r.reset, r.rst, r.body.String(), r.frames)
	}
	if err := recv(t, done, "the handler's end"); err == nil {
		t.Error("Flush on a stalled stream reported no error")
	}
}
