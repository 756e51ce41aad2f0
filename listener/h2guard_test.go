package listener

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// scriptConn is a read-only conn over a byte stream cut into fixed
// chunks, which makes read boundaries exact (a socket's are not). A nil
// chunk is a read timeout; after the last chunk Read returns io.EOF.
type scriptConn struct {
	net.Conn
	steps [][]byte
}

func (c *scriptConn) Read(b []byte) (int, error) {
	for len(c.steps) > 0 {
		if c.steps[0] == nil {
			c.steps = c.steps[1:]
			return 0, os.ErrDeadlineExceeded
		}
		n := copy(b, c.steps[0])
		if c.steps[0] = c.steps[0][n:]; len(c.steps[0]) == 0 {
			c.steps = c.steps[1:]
		}
		if n > 0 {
			return n, nil
		}
	}
	return 0, io.EOF
}

// chunks cuts s into pieces of size n; with timeouts, a timeout follows
// each piece.
func chunks(s []byte, n int, timeouts bool) [][]byte {
	var out [][]byte
	for len(s) > 0 {
		k := min(n, len(s))
		out = append(out, s[:k:k])
		if timeouts {
			out = append(out, nil)
		}
		s = s[k:]
	}
	return out
}

var testGuardConfig = h2GuardConfig{maxFrame: 16384, maxBlock: 64 << 10, tableSize: 4096, prefaceLen: len(h2Preface)}

// guardRead reads all of stream through a guard, in reads of readSize,
// retrying after timeouts.
func guardRead(cfg h2GuardConfig, steps [][]byte, readSize int) ([]byte, error) {
	g := newH2Guard(&scriptConn{steps: steps}, cfg)
	var out []byte
	buf := make([]byte, readSize)
	for {
		n, err := g.Read(buf)
		out = append(out, buf[:n]...)
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
		case errors.Is(err, io.EOF):
			return out, nil
		case err != nil:
			return out, err
		}
	}
}

// guardAll runs stream through the guard cut and read in many ways, checks
// that every way gives the same bytes, and returns them.
func guardAll(t *testing.T, cfg h2GuardConfig, stream []byte) []byte {
	t.Helper()
	want, err := guardRead(cfg, [][]byte{stream}, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	for _, chunk := range []int{1, 7, 9, 4096} {
		for _, rs := range []int{1, 9, 4096} {
			for _, timeouts := range []bool{false, true} {
				if chunk == 1 && rs == 1 && len(stream) > 2000 {
					continue // slow and adds nothing over 1/9 and 7/1
				}
				got, err := guardRead(cfg, chunks(stream, chunk, timeouts), rs)
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("chunks of %d, reads of %d, timeouts %v: %v; output differs from whole reads", chunk, rs, timeouts, err)
				}
			}
		}
	}
	return want
}

// h2Client writes a client's side of a connection into a buffer.
type h2Client struct {
	out bytes.Buffer
	fr  *http2.Framer
	hb  bytes.Buffer
	enc *hpack.Encoder
}

func newH2Client() *h2Client {
	c := &h2Client{}
	c.out.WriteString(h2Preface)
	c.fr = http2.NewFramer(&c.out, nil)
	c.enc = hpack.NewEncoder(&c.hb)
	return c
}

// block encodes a GET for path plus the given name, value pairs.
func (c *h2Client) block(path string, kv ...string) []byte {
	c.hb.Reset()
	fields := []string{":method", "GET", ":scheme", "https", ":authority", "a.example", ":path", path, "user-agent", "guard-test/1"}
	fields = append(fields, kv...)
	for i := 0; i+1 < len(fields); i += 2 {
		_ = c.enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	return bytes.Clone(c.hb.Bytes())
}

func (c *h2Client) get(stream uint32, path string, kv ...string) {
	_ = c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: stream, BlockFragment: c.block(path, kv...), EndStream: true, EndHeaders: true})
}

// raw lists the frames of a guard's output: "TYPE stream len flags".
func raw(t *testing.T, out []byte) []string {
	t.Helper()
	fr := http2.NewFramer(io.Discard, bytes.NewReader(bytes.TrimPrefix(out, []byte(h2Preface))))
	fr.SetMaxReadFrameSize(1 << 24)
	var got []string
	for {
		f, err := fr.ReadFrame()
		if errors.Is(err, io.EOF) {
			return got
		}
		if err != nil {
			t.Fatalf("raw frame %d: %v", len(got), err)
		}
		h := f.Header()
		got = append(got, fmt.Sprintf("%v %d %d %#x", h.Type, h.StreamID, h.Length, uint8(h.Flags)))
	}
}

// decoded reads a guard's output as x/net's server does and lists what it
// sees: settings, requests ("GET /path") and stream errors.
func decoded(t *testing.T, out []byte) []string {
	t.Helper()
	if !bytes.HasPrefix(out, []byte(h2Preface)) {
		t.Fatal("preface changed")
	}
	fr := http2.NewFramer(io.Discard, bytes.NewReader(out[len(h2Preface):]))
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	fr.MaxHeaderListSize = 1 << 20
	var got []string
	for {
		f, err := fr.ReadFrame()
		var se http2.StreamError
		switch {
		case errors.Is(err, io.EOF):
			return got
		case errors.As(err, &se):
			got = append(got, fmt.Sprintf("stream %d %v", se.StreamID, se.Code))
			continue
		case err != nil:
			return append(got, "error "+err.Error())
		}
		switch f := f.(type) {
		case *http2.MetaHeadersFrame:
			got = append(got, f.PseudoValue("method")+" "+f.PseudoValue("path"))
		case *http2.SettingsFrame:
			var s []string
			_ = f.ForeachSetting(func(st http2.Setting) error { s = append(s, st.String()); return nil })
			got = append(got, "SETTINGS "+strings.Join(s, " "))
		default:
			got = append(got, f.Header().Type.String())
		}
	}
}

func TestH2GuardPassesConformantTraffic(t *testing.T) {
	c := newH2Client()
	_ = c.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 20}, http2.Setting{ID: http2.SettingEnablePush, Val: 0})
	_ = c.fr.WriteWindowUpdate(0, 1<<20)
	_ = c.fr.WriteSettingsAck()
	c.get(1, "/a", "te", "trailers", "accept", "*/*")
	blk := c.block("/b", "te", "")
	_ = c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: blk[:5]})
	_ = c.fr.WriteContinuation(3, false, blk[5:9])
	_ = c.fr.WriteContinuation(3, true, blk[9:])
	_ = c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 5, BlockFragment: c.block("/c", "content-type", "text/plain"),
		EndHeaders: true, PadLength: 7, Priority: http2.PriorityParam{StreamDep: 3, Weight: 9}})
	_ = c.fr.WriteData(5, false, bytes.Repeat([]byte("x"), 16000))
	_ = c.fr.WriteData(5, true, nil)
	_ = c.fr.WritePing(false, [8]byte{1})
	_ = c.fr.WriteRSTStream(5, http2.ErrCodeCancel)
	in := c.out.Bytes()
	if out := guardAll(t, testGuardConfig, in); !bytes.Equal(out, in) {
		t.Fatalf("conformant traffic changed:\n%q\n%q", raw(t, in), raw(t, out))
	}
}

func TestH2GuardSettings(t *testing.T) {
	iws := func(v uint32) http2.Setting { return http2.Setting{ID: http2.SettingInitialWindowSize, Val: v} }
	many := make([]http2.Setting, 101)
	for i := range many {
		many[i] = iws(uint32(i))
	}
	for _, tc := range []struct {
		name     string
		settings []http2.Setting
		want     string // "": unchanged
	}{
		{"repeated id keeps the last value", []http2.Setting{iws(100), {ID: http2.SettingMaxFrameSize, Val: 20000}, iws(1)},
			"SETTINGS [MAX_FRAME_SIZE = 20000] [INITIAL_WINDOW_SIZE = 1]"},
		{"in order of last appearance", []http2.Setting{iws(1), {ID: http2.SettingEnablePush, Val: 0}, iws(2), {ID: http2.SettingEnablePush, Val: 1}},
			"SETTINGS [INITIAL_WINDOW_SIZE = 2] [ENABLE_PUSH = 1]"},
		{"distinct ids pass", []http2.Setting{iws(1), {ID: http2.SettingEnablePush, Val: 0}}, ""},
		{"over 100 entries pass as sent", many, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newH2Client()
			_ = c.fr.WriteSettings(tc.settings...)
			c.get(1, "/after")
			in := c.out.Bytes()
			out := guardAll(t, testGuardConfig, in)
			if tc.want == "" {
				if !bytes.Equal(out, in) {
					t.Fatalf("changed: %q", decoded(t, out))
				}
				return
			}
			if got := decoded(t, out); strings.Join(got, "|") != tc.want+"|GET /after" {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestH2GuardHeaders checks which header blocks are marked (x/net then
// sees a stream error) and that the shadow decoder stays in step: every
// stream after a marked one still decodes, dynamic table entries included.
func TestH2GuardHeaders(t *testing.T) {
	for _, tc := range []struct {
		name string
		kv   []string
		bad  bool   // marked
		mid  string // what x/net sees of the middle stream when unmarked
	}{
		{"connection", []string{"connection", "keep-alive"}, true, ""},
		{"keep-alive", []string{"keep-alive", "timeout=5"}, true, ""},
		{"proxy-connection", []string{"proxy-connection", "close"}, true, ""},
		{"transfer-encoding", []string{"transfer-encoding", "chunked"}, true, ""},
		{"upgrade", []string{"upgrade", "websocket"}, true, ""},
		{"te gzip", []string{"te", "trailers, deflate"}, true, ""},
		{"te twice", []string{"te", "trailers", "te", "trailers"}, true, ""},
		{"te trailers", []string{"te", "trailers"}, false, "GET /bad"},
		{"te empty", []string{"te", ""}, false, "GET /bad"},
		{"lookalike names", []string{"x-connection", "close", "upgrade-insecure-requests", "1"}, false, "GET /bad"},
		// x/net resets these itself; the guard leaves them alone.
		{"already invalid", []string{"Connection", "close"}, false, "stream 3 PROTOCOL_ERROR"},
		{"pseudo after regular", []string{":x", "y", "connection", "close"}, false, "stream 3 PROTOCOL_ERROR"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newH2Client()
			c.get(1, "/first", "x-shared", "v")
			c.get(3, "/bad", tc.kv...)
			c.get(5, "/next", "x-shared", "v")
			in := c.out.Bytes()
			out := guardAll(t, testGuardConfig, in)
			want := "GET /first|" + tc.mid + "|GET /next"
			if tc.bad {
				want = "GET /first|stream 3 PROTOCOL_ERROR|GET /next"
			} else if !bytes.Equal(out, in) {
				t.Fatalf("unmarked block changed: %q", decoded(t, out))
			}
			if got := strings.Join(decoded(t, out), "|"); got != want {
				t.Fatalf("got %q, want %q", got, want)
			}
		})
	}
}

// TestH2GuardMarkPlacement checks where the marker goes: before padding,
// into the last CONTINUATION, or into a CONTINUATION of its own when the
// frame would outgrow the frame size.
func TestH2GuardMarkPlacement(t *testing.T) {
	bad := []string{"connection", "close"}
	mk := len(invalidMarker)
	t.Run("padded priority headers", func(t *testing.T) {
		c := newH2Client()
		blk := c.block("/p", bad...)
		_ = c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: blk, EndHeaders: true, EndStream: true,
			PadLength: 5, Priority: http2.PriorityParam{StreamDep: 0, Weight: 15, Exclusive: true}})
		in := c.out.Bytes()
		out := guardAll(t, testGuardConfig, in)
		n := 1 + 5 + len(blk) + 5
		if got, want := raw(t, out), []string{fmt.Sprintf("HEADERS 1 %d 0x2d", n+mk)}; strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("got %q, want %q", got, want)
		}
		if !bytes.HasSuffix(out, append(bytes.Clone(invalidMarker), 0, 0, 0, 0, 0)) {
			t.Fatal("marker is not right before the padding")
		}
		if got := decoded(t, out); len(got) != 1 || got[0] != "stream 1 PROTOCOL_ERROR" {
			t.Fatalf("decoded %q", got)
		}
	})
	t.Run("continuation chain", func(t *testing.T) {
		c := newH2Client()
		blk := c.block("/c", bad...)
		_ = c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: blk[:len(blk)-4], EndStream: true})
		_ = c.fr.WriteContinuation(1, false, blk[len(blk)-4:len(blk)-2])
		_ = c.fr.WriteContinuation(1, true, blk[len(blk)-2:])
		c.get(3, "/ok")
		out := guardAll(t, testGuardConfig, c.out.Bytes())
		want := fmt.Sprintf("HEADERS 1 %d 0x1|CONTINUATION 1 2 0x0|CONTINUATION 1 %d 0x4|HEADERS 3", len(blk)-4, 2+mk)
		if got := strings.Join(raw(t, out), "|"); !strings.HasPrefix(got, want) {
			t.Fatalf("got %q, want %q", got, want)
		}
		if got := strings.Join(decoded(t, out), "|"); got != "stream 1 PROTOCOL_ERROR|GET /ok" {
			t.Fatalf("decoded %q", got)
		}
	})
	t.Run("full frame gets a continuation", func(t *testing.T) {
		c := newH2Client()
		// Size x-pad's value (its length prefix grows by 2 bytes; "~"
		// defeats Huffman coding) so that the block leaves less room in
		// the frame than the marker needs.
		pad := testGuardConfig.maxFrame - 2 - 2 - len(newH2Client().block("/big", "connection", "close", "x-pad", ""))
		blk := c.block("/big", "connection", "close", "x-pad", strings.Repeat("~", pad))
		if len(blk) != testGuardConfig.maxFrame-2 {
			t.Fatalf("block of %d bytes", len(blk))
		}
		_ = c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: blk, EndHeaders: true, EndStream: true})
		c.get(3, "/ok")
		out := guardAll(t, testGuardConfig, c.out.Bytes())
		want := fmt.Sprintf("HEADERS 1 %d 0x1|CONTINUATION 1 %d 0x4|HEADERS 3", len(blk), mk)
		if got := strings.Join(raw(t, out), "|"); !strings.HasPrefix(got, want) {
			t.Fatalf("got %q, want %q", got, want)
		}
		if got := strings.Join(decoded(t, out), "|"); got != "stream 1 PROTOCOL_ERROR|GET /ok" {
			t.Fatalf("decoded %q", got)
		}
	})
}
