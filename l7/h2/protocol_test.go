package h2

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/net/http2"
)

// TestSendWindow: response DATA never exceeds what the client's
// windows allow, and resumes as they grow, by WINDOW_UPDATE and by a
// larger SETTINGS_INITIAL_WINDOW_SIZE (RFC 9113 6.9.2).
func TestSendWindow(t *testing.T) {
	body := strings.Repeat("w", 1000)
	addr := serveLoopback(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, body)
	})})
	c := dialRaw(t, addr)
	if err := c.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0}); err != nil {
		t.Fatal(err)
	}
	c.request(1, "GET", "/", true)
	got := 0
	expect := func(want int) {
		t.Helper()
		for got < want {
			switch f := c.must().(type) {
			case *http2.DataFrame:
				got += len(f.Data())
				if got > want {
					t.Fatalf("%d bytes of DATA, the window allows %d", got, want)
				}
			case *http2.MetaHeadersFrame:
				if f.StreamEnded() {
					t.Fatalf("stream ended at %d bytes", got)
				}
			}
		}
	}
	if err := c.fr.WriteWindowUpdate(1, 10); err != nil {
		t.Fatal(err)
	}
	expect(10)
	if err := c.fr.WriteWindowUpdate(1, 90); err != nil {
		t.Fatal(err)
	}
	expect(100)
	// The stream window is now 0; a new initial size of 500 makes it 500.
	if err := c.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 500}); err != nil {
		t.Fatal(err)
	}
	expect(600)
	if err := c.fr.WriteWindowUpdate(1, 400); err != nil {
		t.Fatal(err)
	}
	r := c.readStream(1)
	if got+r.body.Len() != len(body) {
		t.Errorf("received %d bytes, want %d", got+r.body.Len(), len(body))
	}
}

// TestLargeResponseHeaders: a header block larger than a frame leaves
// as HEADERS and CONTINUATION frames.
func TestLargeResponseHeaders(t *testing.T) {
	big := strings.Repeat("h", 40000)
	addr := serveLoopback(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Big", big)
		_, _ = io.WriteString(w, "ok")
	})})
	c := dialRaw(t, addr)
	c.request(1, "GET", "/", true)
	if r := c.readStream(1); r.header.Get("X-Big") != big || r.body.String() != "ok" {
		t.Errorf("got a %d-byte header, body %q", len(r.header.Get("X-Big")), r.body.String())
	}
	client, _ := h2cClient(t)
	resp, err := client.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.Header.Get("X-Big") != big {
		t.Errorf("x/net's client got a %d-byte header", len(resp.Header.Get("X-Big")))
	}
}

type ctxKey struct{}

// TestConnContext: ConnContext's values reach every request's context,
// which ends with the connection.
func TestConnContext(t *testing.T) {
	ctxs := make(chan context.Context, 1)
	addr := serveLoopback(t, &Server{
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, ctxKey{}, c.RemoteAddr().String())
		},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctxs <- r.Context()
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}),
	})
	c := dialRaw(t, addr)
	c.request(1, "GET", "/", true)
	ctx := recv(t, ctxs, "the handler")
	if v, _ := ctx.Value(ctxKey{}).(string); v != c.nc.LocalAddr().String() {
		t.Errorf("context value %q, want the client's address", v)
	}
	_ = c.nc.Close()
	recv(t, ctx.Done(), "the request context to end with its connection")
}

// TestProtocolErrors: frames that break the connection's rules end it
// with GOAWAY and the right code.
func TestProtocolErrors(t *testing.T) {
	addr := serveLoopback(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})})
	for _, tc := range []struct {
		name string
		send func(c *rawConn)
		code http2.ErrCode
	}{
		{"even stream id", func(c *rawConn) { c.request(2, "GET", "/", true) }, http2.ErrCodeProtocol},
		{"data on an idle stream", func(c *rawConn) { c.data(5, true, "x") }, http2.ErrCodeProtocol},
		{"reset of an idle stream", func(c *rawConn) { c.reset(3, http2.ErrCodeCancel) }, http2.ErrCodeProtocol},
		{"headers on a closed stream", func(c *rawConn) {
			c.request(3, "GET", "/", true)
			c.readStream(3)
			c.request(1, "GET", "/", true)
		}, http2.ErrCodeStreamClosed},
		{"connection window overflow", func(c *rawConn) {
			_ = c.fr.WriteWindowUpdate(0, 1<<31-1)
		}, http2.ErrCodeFlowControl},
		{"push promise", func(c *rawConn) {
			_ = c.fr.WritePushPromise(http2.PushPromiseParam{StreamID: 1, PromiseID: 2, BlockFragment: c.block(":method", "GET"), EndHeaders: true})
		}, http2.ErrCodeProtocol},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, addr)
			tc.send(c)
			if g := c.goAway(); g.ErrCode != tc.code {
				t.Errorf("GOAWAY %v, want %v", g.ErrCode, tc.code)
			}
			c.waitClosed(0)
		})
	}
}
