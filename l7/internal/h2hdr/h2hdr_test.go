package h2hdr

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// frames writes a header block as a HEADERS frame and CONTINUATION frames
// of at most split bytes each, on stream 1.
func frames(t testing.TB, block []byte, split int) []byte {
	var buf bytes.Buffer
	fr := http2.NewFramer(&buf, nil)
	fr.AllowIllegalWrites = true
	first := true
	for first || len(block) > 0 {
		n := min(len(block), split)
		chunk := block[:n]
		block = block[n:]
		var err error
		if first {
			err = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: chunk, EndHeaders: len(block) == 0, EndStream: true})
		} else {
			err = fr.WriteContinuation(1, len(block) == 0, chunk)
		}
		if err != nil {
			t.Fatal(err)
		}
		first = false
	}
	return buf.Bytes()
}

// outcome summarises a read: the fields kept, truncation, and the kind of
// error.
type outcome struct {
	fields    []hpack.HeaderField
	truncated bool
	err       string
}

func errKind(err error) string {
	var se http2.StreamError
	var ce http2.ConnectionError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &se):
		return "stream " + se.Code.String()
	case errors.As(err, &ce):
		return "connection " + http2.ErrCode(ce).String()
	}
	return "other"
}

// viaXNet reads the frames with x/net's ReadMetaHeaders.
func viaXNet(wire []byte, max uint32) outcome {
	fr := http2.NewFramer(nil, bytes.NewReader(wire))
	fr.MaxHeaderListSize = max
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	f, err := fr.ReadFrame()
	if err != nil {
		return outcome{err: errKind(err)}
	}
	mh := f.(*http2.MetaHeadersFrame)
	return outcome{fields: append([]hpack.HeaderField(nil), mh.Fields...), truncated: mh.Truncated}
}

// viaDecoder reads them with this package, twice on one Decoder (the
// field slice and the decoder are reused).
func viaDecoder(wire []byte, max uint32) outcome {
	d := NewDecoder(4096, max)
	var b Block
	var out outcome
	for range 2 {
		fr := http2.NewFramer(nil, bytes.NewReader(wire))
		f, err := fr.ReadFrame()
		if err != nil {
			return outcome{err: errKind(err)}
		}
		hf, ok := f.(*http2.HeadersFrame)
		if !ok {
			return outcome{err: "other"}
		}
		if err := d.ReadBlock(fr, hf, &b); err != nil {
			return outcome{err: errKind(err)}
		}
		out = outcome{fields: append([]hpack.HeaderField(nil), b.Fields...), truncated: b.Truncated}
		d = NewDecoder(4096, max) // the second read starts from an empty table, as the first
	}
	return out
}

func encode(fields ...string) []byte {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	for i := 0; i+1 < len(fields); i += 2 {
		_ = enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	return buf.Bytes()
}

// The decoder agrees with x/net's Framer on every case: what is kept,
// truncation, and the error.
func TestAgreesWithXNet(t *testing.T) {
	long := strings.Repeat("v", 300)
	req := []string{":method", "GET", ":scheme", "http", ":path", "/x", ":authority", "a"}
	cases := map[string]struct {
		block []byte
		max   uint32
		split int
	}{
		"request":            {encode(append(req, "accept", "*/*", "cookie", "a=1", "cookie", "b=2")...), 1 << 20, 1 << 14},
		"continuations":      {encode(append(req, "x-long", long, "x-other", long)...), 1 << 20, 7},
		"response":           {encode(":status", "200", "content-type", "application/grpc"), 1 << 20, 1 << 14},
		"truncated":          {encode(append(req, "x-long", long, "x-more", long)...), 400, 1 << 14},
		"trailer budget":     {encode(append(req, "trailer", "a, b, c, d")...), 250, 1 << 14},
		"upper case name":    {encode(append(req, "X-Upper", "v")...), 1 << 20, 1 << 14},
		"pseudo after":       {encode(":method", "GET", "accept", "x", ":path", "/"), 1 << 20, 1 << 14},
		"unknown pseudo":     {encode(":method", "GET", ":bogus", "x"), 1 << 20, 1 << 14},
		"duplicate pseudo":   {encode(":method", "GET", ":method", "POST"), 1 << 20, 1 << 14},
		"mixed pseudo":       {encode(":method", "GET", ":status", "200"), 1 << 20, 1 << 14},
		"bad value":          {encode(append(req, "x", "a\x00b")...), 1 << 20, 1 << 14},
		"index zero":         {[]byte{0x80}, 1 << 20, 1 << 14},
		"truncated hpack":    {encode(append(req, "x-long", long)...)[:40], 1 << 20, 1 << 14},
		"far over the limit": {encode(append(req, "x-long", long, "x-2", long, "x-3", long)...), 64, 1 << 14},
		"empty":              {nil, 1 << 20, 1 << 14},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			wire := frames(t, c.block, c.split)
			want, got := viaXNet(wire, c.max), viaDecoder(wire, c.max)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("decoder %+v\nx/net   %+v", got, want)
			}
		})
	}
}

// Block's accessors split pseudo-header and regular fields.
func TestBlockAccessors(t *testing.T) {
	b := Block{Fields: []hpack.HeaderField{{Name: ":method", Value: "POST"}, {Name: ":path", Value: "/p"}, {Name: "a", Value: "1"}}}
	if b.PseudoValue("path") != "/p" || b.PseudoValue("status") != "" || len(b.PseudoFields()) != 2 || len(b.RegularFields()) != 1 {
		t.Fatalf("accessors: %q %q %v %v", b.PseudoValue("path"), b.PseudoValue("status"), b.PseudoFields(), b.RegularFields())
	}
	if r := (&Block{Fields: b.Fields[:2]}).RegularFields(); r != nil {
		t.Fatalf("no regular fields: %v", r)
	}
}

// FuzzAgreesWithXNet: for any header block bytes and fragment size, the
// decoder and x/net's Framer agree.
func FuzzAgreesWithXNet(f *testing.F) {
	f.Add(encode(":method", "GET", ":path", "/", "a", "b"), uint16(1<<14), uint32(1<<20))
	f.Add(encode(":status", "200", "grpc-status", "0"), uint16(3), uint32(100))
	f.Add([]byte{0x80}, uint16(1), uint32(10))
	f.Fuzz(func(t *testing.T, block []byte, split uint16, max uint32) {
		if split == 0 || len(block) > 1<<16 {
			return
		}
		wire := frames(t, block, int(split))
		want, got := viaXNet(wire, max), viaDecoder(wire, max)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("decoder %+v\nx/net   %+v", got, want)
		}
	})
}
