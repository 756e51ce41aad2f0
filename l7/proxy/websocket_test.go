package proxy_test

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestWebSocket proxies a WebSocket session: the upgrade, a greeting from
// the server, messages both ways, and the close handshake.
func TestWebSocket(t *testing.T) {
	upgrader := websocket.Upgrader{}
	xff := make(chan string, 1)
	closed := make(chan int, 1)
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		xff <- r.Header.Get("X-Forwarded-For")
		conn, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		_ = conn.WriteMessage(websocket.TextMessage, []byte("hello from upstream"))
		for {
			kind, msg, err := conn.ReadMessage()
			if err != nil {
				if ce, ok := err.(*websocket.CloseError); ok {
					closed <- ce.Code
				}
				return
			}
			if err := conn.WriteMessage(kind, append([]byte("echo: "), msg...)); err != nil {
				return
			}
		}
	})
	g := startGateway(t, simpleConfig([]string{b.Addr}, "", ""))
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	conn, res, err := d.Dial("ws"+strings.TrimPrefix(g.URL, "http")+"/ws", nil)
	if err != nil {
		t.Fatalf("dial through the gateway: %v", err)
	}
	defer conn.Close()
	if res.StatusCode != http.StatusSwitchingProtocols || res.Header.Get("X-Request-Id") == "" {
		t.Errorf("upgrade response %d, X-Request-Id %q", res.StatusCode, res.Header.Get("X-Request-Id"))
	}
	if got := recv(t, xff, 5*time.Second, "the upgrade request"); got != "127.0.0.1" {
		t.Errorf("upstream X-Forwarded-For = %q", got)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	read := func(want string) {
		t.Helper()
		_, msg, err := conn.ReadMessage()
		if err != nil || string(msg) != want {
			t.Fatalf("read %q, %v; want %q", msg, err, want)
		}
	}
	read("hello from upstream")
	for _, m := range []string{"one", "two", strings.Repeat("x", 100<<10)} {
		if err := conn.WriteMessage(websocket.TextMessage, []byte(m)); err != nil {
			t.Fatal(err)
		}
		read("echo: " + m)
	}
	if err := conn.WriteMessage(websocket.BinaryMessage, []byte{0, 1, 2}); err != nil {
		t.Fatal(err)
	}
	read("echo: \x00\x01\x02")
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye")
	if err := conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if code := recv(t, closed, 5*time.Second, "the upstream to see the close"); code != websocket.CloseNormalClosure {
		t.Errorf("upstream close code %d", code)
	}
	if _, _, err := conn.ReadMessage(); err == nil {
		t.Error("read after close succeeded")
	}
}

// TestWebSocketRefused checks that an upstream refusing the upgrade with
// an ordinary response is passed through as that response.
func TestWebSocketRefused(t *testing.T) {
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no sockets here", http.StatusForbidden)
	})
	g := startGateway(t, simpleConfig([]string{b.Addr}, "", ""))
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	_, res, err := d.Dial("ws"+strings.TrimPrefix(g.URL, "http")+"/ws", nil)
	if err == nil || res == nil || res.StatusCode != http.StatusForbidden {
		t.Fatalf("dial = %v, %v; want a 403 handshake failure", res, err)
	}
}

// TestWebSocketIdleTimeout checks that an upgraded connection stays open
// past the proxy's idle limit while bytes flow, and is closed at both
// ends once nothing moved either way for that long.
func TestWebSocketIdleTimeout(t *testing.T) {
	const idle = 300 * time.Millisecond
	upgrader := websocket.Upgrader{}
	upstreamEnded := make(chan struct{})
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		conn, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer close(upstreamEnded)
		defer conn.Close()
		for {
			kind, msg, err := conn.ReadMessage()
			if err != nil || conn.WriteMessage(kind, msg) != nil {
				return
			}
		}
	})
	p := newExchangeProxyWith(t, []string{b.Addr}, "", "upgrade_idle_timeout: "+idle.String())
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	conn, _, err := d.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", nil)
	if err != nil {
		t.Fatalf("dial through the proxy: %v", err)
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for start := time.Now(); time.Since(start) < 3*idle; {
		if err := conn.WriteMessage(websocket.TextMessage, []byte("ping")); err != nil {
			t.Fatalf("write while active: %v", err)
		}
		if _, msg, err := conn.ReadMessage(); err != nil || string(msg) != "ping" {
			t.Fatalf("echo while active: %q, %v", msg, err)
		}
	}
	quiet := time.Now()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err = conn.ReadMessage()
	var ne net.Error
	if err == nil || errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("read on a quiet upgraded connection: %v; want it closed by the proxy", err)
	}
	if d := time.Since(quiet); d < idle/2 {
		t.Errorf("closed %v after the last message, before the %v idle limit", d, idle)
	}
	recv(t, upstreamEnded, 5*time.Second, "the upstream side to be closed")
}
