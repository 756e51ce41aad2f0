package listener

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// FuzzH2Guard sends arbitrary frames (after the client preface) through
// the guard, cut into reads of fuzzed sizes. Invariants: nothing panics;
// the output does not depend on how the input was cut or read; it grows by
// at most one marker and one frame header per frame; and a stream that
// x/net's own framer reads without any error, repeated setting or
// connection-specific header passes byte for byte.
func FuzzH2Guard(f *testing.F) {
	f.Fuzz(func(t *testing.T, frames []byte, split, readSize uint16) {
		in := append([]byte(h2Preface), frames...)
		whole, err := guardRead(testGuardConfig, [][]byte{in}, 1<<16)
		if err != nil {
			t.Fatal(err)
		}
		cut, err := guardRead(testGuardConfig, chunks(in, 1+int(split)%64, split%3 == 0), 1+int(readSize)%4200)
		if err != nil || !bytes.Equal(cut, whole) {
			t.Fatalf("output depends on read boundaries (err %v)", err)
		}
		if len(whole) > len(in)+(len(frames)/frameHeaderLen+1)*(frameHeaderLen+len(invalidMarker)) {
			t.Fatalf("output of %d bytes from %d", len(whole), len(in))
		}
		if conformant(frames) && !bytes.Equal(whole, in) {
			t.Fatalf("conformant stream changed:\n%q\n%q", raw(t, in), raw(t, whole))
		}
	})
}

// conformant reports whether x/net's framer (set up as the server's) reads
// frames to the end with no error, no SETTINGS frame with a repeated id and
// no request the guard must mark.
func conformant(frames []byte) bool {
	fr := http2.NewFramer(io.Discard, bytes.NewReader(frames))
	fr.ReadMetaHeaders = hpack.NewDecoder(testGuardConfig.tableSize, nil)
	fr.MaxHeaderListSize = 1 << 30
	for {
		f, err := fr.ReadFrame()
		if errors.Is(err, io.EOF) {
			return true
		}
		if err != nil {
			return false
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if f.HasDuplicates() {
				return false
			}
		case *http2.MetaHeadersFrame:
			if f.Truncated || connectionSpecific(f.RegularFields()) {
				return false
			}
		}
	}
}

// connectionSpecific is RFC 9113 8.2.2 as x/net applies it to requests.
func connectionSpecific(fields []hpack.HeaderField) bool {
	te := 0
	for _, hf := range fields {
		switch hf.Name {
		case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
			return true
		case "te":
			te++
			if te > 1 || (hf.Value != "" && hf.Value != "trailers") {
				return true
			}
		}
	}
	return false
}

// TestH2GuardGivesUp checks that what the guard cannot follow turns it off:
// the rest of the connection passes unchanged, marks included.
func TestH2GuardGivesUp(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   func(*h2GuardConfig)
		write func(c *h2Client)
	}{
		{"malformed hpack", nil, func(c *h2Client) {
			// Indexed field 0 does not exist (RFC 7541 6.1).
			_ = c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: []byte{0x80}, EndHeaders: true})
		}},
		{"truncated hpack block", nil, func(c *h2Client) {
			blk := c.block("/t")
			_ = c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: blk[:len(blk)-1], EndHeaders: true})
		}},
		{"block over the limit", func(g *h2GuardConfig) { g.maxBlock = 100 }, func(c *h2Client) {
			c.get(1, "/"+strings.Repeat("l", 100))
		}},
		{"frame over the frame size", nil, func(c *h2Client) {
			_ = c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: make([]byte, 16385), EndHeaders: true})
		}},
		{"padding longer than the frame", nil, func(c *h2Client) {
			_ = c.fr.WriteRawFrame(http2.FrameHeaders, 0x4|0x8, 1, []byte{9, 0x82})
		}},
		{"data inside a header block", nil, func(c *h2Client) {
			_ = c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: c.block("/d")})
			_ = c.fr.WriteData(1, true, []byte("x"))
		}},
		{"continuation of another stream", nil, func(c *h2Client) {
			_ = c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: c.block("/s")})
			_ = c.fr.WriteContinuation(3, true, nil)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testGuardConfig
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			c := newH2Client()
			tc.write(c)
			c.get(5, "/bad", "connection", "close")
			_ = c.fr.WriteSettings(http2.Setting{ID: http2.SettingEnablePush, Val: 0}, http2.Setting{ID: http2.SettingEnablePush, Val: 0})
			in := c.out.Bytes()
			if out := guardAll(t, cfg, in); !bytes.Equal(out, in) {
				t.Fatalf("output changed after the guard gave up: %q", raw(t, out))
			}
		})
	}
}

// TestH2GuardEOF checks that bytes held when the stream ends are returned
// before the EOF.
func TestH2GuardEOF(t *testing.T) {
	c := newH2Client()
	c.get(1, "/eof", "connection", "close")
	for _, cut := range []int{len(h2Preface) + 4, c.out.Len() - 3} {
		in := c.out.Bytes()[:cut]
		if out := guardAll(t, testGuardConfig, in); !bytes.Equal(out, in) {
			t.Fatalf("cut at %d: got %d bytes, want %d", cut, len(out), len(in))
		}
	}
}
