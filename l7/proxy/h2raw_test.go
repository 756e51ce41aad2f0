package proxy

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2tRaw is one connection of a server that speaks frame by frame.
type h2tRaw struct {
	fr  *http2.Framer
	enc *hpack.Encoder
	hb  bytes.Buffer
}

// h2tRawServer listens on loopback and runs serve for each connection
// (i counts them from 0) after the preface and an empty SETTINGS; it
// returns the address. Connections close when serve returns.
func h2tRawServer(t testing.TB, serve func(i int, rc *h2tRaw)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, nc)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer nc.Close()
				preface := make([]byte, len(http2.ClientPreface))
				if _, err := io.ReadFull(nc, preface); err != nil || string(preface) != http2.ClientPreface {
					return
				}
				rc := &h2tRaw{fr: http2.NewFramer(nc, nc)}
				rc.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
				rc.enc = hpack.NewEncoder(&rc.hb)
				if rc.fr.WriteSettings() != nil {
					return
				}
				serve(i, rc)
			}()
		}
	}()
	return ln.Addr().String()
}

// next returns the next frame other than SETTINGS, PING and WINDOW_UPDATE,
// acknowledging SETTINGS and answering PINGs on the way.
func (rc *h2tRaw) next() (http2.Frame, error) {
	for {
		f, err := rc.fr.ReadFrame()
		if err != nil {
			return nil, err
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				if err := rc.fr.WriteSettingsAck(); err != nil {
					return nil, err
				}
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				if err := rc.fr.WritePing(true, f.Data); err != nil {
					return nil, err
				}
			}
		case *http2.WindowUpdateFrame:
		default:
			return f, nil
		}
	}
}

// request returns the next request's HEADERS, skipping other frames.
func (rc *h2tRaw) request() (*http2.MetaHeadersFrame, error) {
	for {
		f, err := rc.next()
		if err != nil {
			return nil, err
		}
		if h, ok := f.(*http2.MetaHeadersFrame); ok && h.PseudoValue("method") != "" {
			return h, nil
		}
	}
}

// block encodes name/value pairs as a header block.
func (rc *h2tRaw) block(kv ...string) []byte {
	rc.hb.Reset()
	for i := 0; i+1 < len(kv); i += 2 {
		_ = rc.enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	return bytes.Clone(rc.hb.Bytes())
}

func (rc *h2tRaw) headers(id uint32, end bool, kv ...string) error {
	return rc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: rc.block(kv...), EndStream: end, EndHeaders: true})
}

// respond sends a whole 200 response with body on stream id.
func (rc *h2tRaw) respond(id uint32, body string) error {
	if err := rc.headers(id, false, ":status", "200"); err != nil {
		return err
	}
	return rc.fr.WriteData(id, true, []byte(body))
}

// drain reads until the connection fails, answering as next does.
func (rc *h2tRaw) drain() {
	for {
		if _, err := rc.next(); err != nil {
			return
		}
	}
}

// TestH2Malformed answers the first request with something HTTP/2 does
// not allow: the request fails, at RoundTrip or while reading the body,
// without a panic or a hang.
func TestH2Malformed(t *testing.T) {
	big := strings.Repeat("a", h2MaxHeaderList+1024)
	for _, tc := range []struct {
		name  string
		serve func(rc *h2tRaw, id uint32) error
	}{
		{"missing :status", func(rc *h2tRaw, id uint32) error {
			return rc.headers(id, true, "content-type", "text/plain")
		}},
		{"status 101", func(rc *h2tRaw, id uint32) error { return rc.headers(id, true, ":status", "101") }},
		{"informational then end", func(rc *h2tRaw, id uint32) error { return rc.headers(id, true, ":status", "103") }},
		{"invalid header name", func(rc *h2tRaw, id uint32) error {
			return rc.headers(id, true, ":status", "200", "bad name", "x")
		}},
		{"DATA before HEADERS", func(rc *h2tRaw, id uint32) error { return rc.fr.WriteData(id, true, []byte("x")) }},
		{"trailers without END_STREAM", func(rc *h2tRaw, id uint32) error {
			if err := rc.headers(id, false, ":status", "200"); err != nil {
				return err
			}
			return rc.headers(id, false, "x-trailer", "t")
		}},
		{"DATA past the stream window", func(rc *h2tRaw, id uint32) error {
			if err := rc.headers(id, false, ":status", "200"); err != nil {
				return err
			}
			chunk := make([]byte, 16<<10)
			for sent := 0; sent <= h2RecvStreamWindow; sent += len(chunk) {
				if err := rc.fr.WriteData(id, false, chunk); err != nil {
					return err
				}
			}
			return nil
		}},
		{"headers over 1 MiB", func(rc *h2tRaw, id uint32) error {
			block := rc.block(":status", "200", "x-big", big)
			if err := rc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block[:16<<10]}); err != nil {
				return err
			}
			for block = block[16<<10:]; len(block) > 0; {
				n := min(len(block), 16<<10)
				if err := rc.fr.WriteContinuation(id, n == len(block), block[:n]); err != nil {
					return err
				}
				block = block[n:]
			}
			return nil
		}},
		{"PUSH_PROMISE", func(rc *h2tRaw, id uint32) error {
			return rc.fr.WritePushPromise(http2.PushPromiseParam{StreamID: id, PromiseID: 2, EndHeaders: true,
				BlockFragment: rc.block(":method", "GET", ":scheme", "http", ":authority", "x", ":path", "/pushed")})
		}},
		{"HEADERS on a server stream", func(rc *h2tRaw, id uint32) error { return rc.headers(2, true, ":status", "200") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := h2tRawServer(t, func(_ int, rc *h2tRaw) {
				h, err := rc.request()
				if err == nil && tc.serve(rc, h.StreamID) == nil {
					rc.drain()
				}
			})
			tr := h2tClient(t, "h2c", nil, 0)
			res, err := tr.RoundTrip(h2tRequest(t, h2tCtx(t), http.MethodGet, "http://"+addr+"/", nil))
			if err == nil {
				// Read only once the stream failed: reading earlier would
				// refund the window the server overruns.
				h2tWait(t, "the stream to fail", func() bool { return h2tStreamErr(res) != nil })
				_, err = io.ReadAll(res.Body)
				_ = res.Body.Close()
			}
			if err == nil {
				t.Fatal("no error")
			}
		})
	}
}
