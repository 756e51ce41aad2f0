package h2

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// testTimeout bounds every wait in these tests.
const testTimeout = 10 * time.Second

// serveLoopback runs srv on a loopback listener, one ServeConn per
// accepted connection, and returns the address. Cleanup closes the
// listener and the accepted connections and fails the test if a
// ServeConn does not return.
func serveLoopback(t testing.TB, srv *Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				srv.ServeConn(c)
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		if !waitGroupDone(&wg, testTimeout) {
			t.Error("ServeConn did not return after its connection closed")
		}
	})
	return ln.Addr().String()
}

func waitGroupDone(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

// h2cClient is an HTTP/2 client speaking h2c with prior knowledge to addr.
func h2cClient(t testing.TB) (*http.Client, *http2.Transport) {
	tr := &http2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: testTimeout}, tr
}

// rawConn is a frame-level client.
type rawConn struct {
	t        testing.TB
	nc       net.Conn
	fr       *http2.Framer
	enc      *hpack.Encoder
	hbuf     bytes.Buffer
	settings []http2.Setting // the server's first SETTINGS
	streams  map[uint32]*response
}

// dialRaw connects, exchanges prefaces and returns once the server's
// SETTINGS have been read (and acknowledged).
func dialRaw(t testing.TB, addr string) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(testTimeout))
	c := &rawConn{t: t, nc: nc, fr: http2.NewFramer(nc, nc)}
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	c.enc = hpack.NewEncoder(&c.hbuf)
	if _, err := io.WriteString(nc, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	if err := c.fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	f, err := c.fr.ReadFrame()
	if err != nil {
		t.Fatalf("reading the server preface: %v", err)
	}
	sf, ok := f.(*http2.SettingsFrame)
	if !ok || sf.IsAck() {
		t.Fatalf("server's first frame is %v, want SETTINGS", f)
	}
	_ = sf.ForeachSetting(func(s http2.Setting) error {
		c.settings = append(c.settings, s)
		return nil
	})
	if err := c.fr.WriteSettingsAck(); err != nil {
		t.Fatal(err)
	}
	return c
}

// block HPACK-encodes name/value pairs.
func (c *rawConn) block(kv ...string) []byte {
	c.hbuf.Reset()
	for i := 0; i+1 < len(kv); i += 2 {
		_ = c.enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	return append([]byte(nil), c.hbuf.Bytes()...)
}

// request sends a HEADERS frame of a request: the pseudo-header fields
// for method and path (authority "example.test", scheme "http") and the
// extra fields.
func (c *rawConn) request(id uint32, method, path string, end bool, extra ...string) {
	c.t.Helper()
	kv := append([]string{":method", method, ":scheme", "http", ":authority", "example.test", ":path", path}, extra...)
	c.headers(id, end, kv...)
}

func (c *rawConn) headers(id uint32, end bool, kv ...string) {
	c.t.Helper()
	err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: c.block(kv...), EndStream: end, EndHeaders: true})
	if err != nil {
		c.t.Fatal(err)
	}
}

func (c *rawConn) data(id uint32, end bool, p string) {
	c.t.Helper()
	if err := c.fr.WriteData(id, end, []byte(p)); err != nil {
		c.t.Fatal(err)
	}
}

func (c *rawConn) reset(id uint32, code http2.ErrCode) {
	c.t.Helper()
	if err := c.fr.WriteRSTStream(id, code); err != nil {
		c.t.Fatal(err)
	}
}

// next reads the next frame that is not a SETTINGS, PING or
// WINDOW_UPDATE (acknowledging SETTINGS); io.EOF when the server closed.
func (c *rawConn) next() (http2.Frame, error) {
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			return nil, err
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				_ = c.fr.WriteSettingsAck()
			}
		case *http2.PingFrame, *http2.WindowUpdateFrame:
		default:
			return f, nil
		}
	}
}

// must reads the next frame, failing the test when there is none.
func (c *rawConn) must() http2.Frame {
	c.t.Helper()
	f, err := c.next()
	if err != nil {
		c.t.Fatalf("reading a frame: %v", err)
	}
	return f
}

// response is what a raw client received on one stream.
type response struct {
	status  string
	header  http.Header // regular fields of the final HEADERS
	body    bytes.Buffer
	trailer http.Header
	rst     http2.ErrCode // RST_STREAM code, if the stream was reset
	reset   bool
	frames  []string // the kinds of the stream's frames, in order
	ended   bool
}

// readStream collects frames of stream id until it ends (END_STREAM or
// RST_STREAM), failing on GOAWAY or a read error. Frames of other
// streams read meanwhile are kept for their own readStream.
func (c *rawConn) readStream(id uint32) *response {
	c.t.Helper()
	if c.streams == nil {
		c.streams = map[uint32]*response{}
	}
	for {
		if r := c.streams[id]; r != nil && r.ended {
			delete(c.streams, id)
			return r
		}
		f := c.must()
		if g, ok := f.(*http2.GoAwayFrame); ok {
			c.t.Fatalf("GOAWAY %v (last stream %d) while reading stream %d", g.ErrCode, g.LastStreamID, id)
		}
		sid := f.Header().StreamID
		r := c.streams[sid]
		if r == nil {
			r = &response{}
			c.streams[sid] = r
		}
		r.ended = r.add(f)
	}
}

// add records f; true when the stream ended.
func (r *response) add(f http2.Frame) bool {
	switch f := f.(type) {
	case *http2.MetaHeadersFrame:
		h := http.Header{}
		for _, hf := range f.RegularFields() {
			k := http.CanonicalHeaderKey(hf.Name)
			h[k] = append(h[k], hf.Value)
		}
		switch st := f.PseudoValue("status"); {
		case st == "":
			r.frames = append(r.frames, "trailers")
			r.trailer = h
		case st[0] == '1':
			r.frames = append(r.frames, "headers "+st)
		default:
			r.frames = append(r.frames, "headers "+st)
			r.status, r.header = st, h
		}
		return f.StreamEnded()
	case *http2.DataFrame:
		r.frames = append(r.frames, "data")
		r.body.Write(f.Data())
		return f.StreamEnded()
	case *http2.RSTStreamFrame:
		r.frames = append(r.frames, "rst")
		r.rst, r.reset = f.ErrCode, true
		return true
	}
	return false
}

// goAway reads until GOAWAY, ignoring other streams' frames.
func (c *rawConn) goAway() *http2.GoAwayFrame {
	c.t.Helper()
	for {
		if g, ok := c.must().(*http2.GoAwayFrame); ok {
			return g
		}
	}
}

// waitClosed reads until the server closes the connection, returning
// the frames of stream id seen meanwhile.
func (c *rawConn) waitClosed(id uint32) []http2.Frame {
	c.t.Helper()
	var seen []http2.Frame
	for {
		f, err := c.next()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				c.t.Fatal("the server did not close the connection")
			}
			return seen
		}
		if f.Header().StreamID == id {
			seen = append(seen, f)
		}
	}
}

// recv waits for a value from ch, failing after testTimeout.
func recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(testTimeout):
		t.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent use (log output).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
