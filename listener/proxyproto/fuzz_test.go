package proxyproto

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"testing"
)

// FuzzRead: Read never panics, consumes exactly the header it returns (the
// v1 line up to its LF, or 16 plus the v2 length field) and nothing when it
// returns none, and every header it returns survives Append and Read again.
// Seeds live in testdata/fuzz/FuzzRead.
func FuzzRead(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		src := bytes.NewReader(data)
		r := bufio.NewReaderSize(src, 128)
		h, err := Read(r)
		consumed := len(data) - src.Len() - r.Buffered()
		if err != nil {
			return
		}
		if h == nil {
			if consumed != 0 {
				t.Fatalf("no header, yet %d bytes consumed", consumed)
			}
			return
		}
		want := bytes.IndexByte(data, '\n') + 1
		if h.Version == 2 {
			want = v2Prefix + int(binary.BigEndian.Uint16(data[14:16]))
		}
		if consumed != want {
			t.Fatalf("v%d header: consumed %d bytes, header is %d", h.Version, consumed, want)
		}
		b, err := h.Append(nil)
		if err != nil {
			t.Fatalf("Append(%+v): %v", h, err)
		}
		again, err := Read(bufio.NewReader(bytes.NewReader(b)))
		if err != nil || !equalHeaders(again, h, true) {
			t.Fatalf("re-read %+v, %v; want %+v", again, err, h)
		}
	})
}
