package grpcweb

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"unsafe"
)

// readWith reads r to the end with reads of at most size bytes.
func readWith(r io.Reader, size int) ([]byte, error) {
	var out []byte
	p := make([]byte, size)
	for {
		n, err := r.Read(p)
		out = append(out, p[:n]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

func TestTextDecoder(t *testing.T) {
	long := bytes.Repeat([]byte("0123456789abcdef"), 700) // > one input buffer
	enc := base64.StdEncoding.EncodeToString
	tests := []struct {
		name    string
		in      string
		want    []byte
		wantOff int64 // offset of the bad character; -1 when valid
	}{
		{"empty", "", nil, -1},
		{"one segment", enc([]byte("hello, world")), []byte("hello, world"), -1},
		{"padded segments", enc([]byte("a")) + enc([]byte("bc")) + enc([]byte("def")) + enc([]byte("g")),
			[]byte("abcdefg"), -1},
		{"long then padded", enc(long) + enc([]byte("xy")), append(append([]byte{}, long...), "xy"...), -1},
		{"unpadded tail", "aGVsbG8", []byte("hello"), -1},
		{"line breaks", "aGVs\r\nbG8=\n", []byte("hello"), -1},
		{"bad character", "aGVsbG8h*GVs", nil, 8},
		{"padding inside group", "aG=sbG8h", nil, 2},
		{"three pads", "aGVsb===", nil, 5},
		{"single char tail", "aGVsbG8hx", nil, 8},
		{"bad in second segment", enc([]byte("a")) + "Y!==", nil, 5},
		{"bad after long prefix", enc(long) + "$AAA", nil, int64(len(enc(long)))},
	}
	readers := []struct {
		name string
		wrap func(io.Reader) io.Reader
	}{
		{"whole", func(r io.Reader) io.Reader { return r }},
		{"one byte", iotest.OneByteReader},
		{"half", iotest.HalfReader},
		{"data with eof", iotest.DataErrReader},
	}
	for _, tt := range tests {
		for _, rd := range readers {
			for _, size := range []int{1, 2, 3, 7, 512, 32 << 10} {
				src := io.NopCloser(rd.wrap(strings.NewReader(tt.in)))
				got, err := readWith(newTextDecoder(src), size)
				if tt.wantOff < 0 {
					if err != nil || !bytes.Equal(got, tt.want) {
						t.Fatalf("%s/%s/%d: got %q, %v; want %q", tt.name, rd.name, size, got, err, tt.want)
					}
					continue
				}
				var ce *corruptError
				if !errors.As(err, &ce) || ce.off != tt.wantOff || !errors.Is(err, errBadBase64) {
					t.Fatalf("%s/%s/%d: err %v, want invalid base64 at %d", tt.name, rd.name, size, err, tt.wantOff)
				}
			}
		}
	}
}

func TestTextDecoderPrime(t *testing.T) {
	enc := base64.StdEncoding.EncodeToString
	tests := []struct {
		name string
		in   string
		bad  bool
	}{
		{"valid", enc([]byte("abc")) + enc([]byte("de")), false},
		{"bad in first read", "QUJD!!!!", true},
		{"bad beyond first read", strings.Repeat("QUJD", 1100) + "!!!!", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newTextDecoder(io.NopCloser(strings.NewReader(tt.in)))
			err := d.prime()
			if (err != nil) != tt.bad {
				t.Fatalf("prime: %v, want bad=%v", err, tt.bad)
			}
			if tt.bad {
				return
			}
			_, rerr := io.ReadAll(d)
			if (rerr != nil) != (d.failed() != nil) {
				t.Fatalf("read error %v but failed() = %v", rerr, d.failed())
			}
		})
	}
}

// decodeGroups decodes base64 made of padded segments by decoding each four-character group on
// its own, independently of textDecoder.
func decodeGroups(t *testing.T, s []byte) []byte {
	t.Helper()
	if len(s)%4 != 0 {
		t.Fatalf("base64 length %d is not a multiple of 4", len(s))
	}
	var out []byte
	for i := 0; i < len(s); i += 4 {
		b, err := base64.StdEncoding.AppendDecode(nil, s[i:i+4])
		if err != nil {
			t.Fatalf("group %q at %d: %v", s[i:i+4], i, err)
		}
		out = append(out, b...)
	}
	return out
}

func TestTextEncoder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 50 {
		var want []byte
		var buf bytes.Buffer
		e := &textEncoder{w: &buf}
		for range rng.IntN(8) + 1 {
			seg := make([]byte, rng.IntN(9000))
			for i := range seg {
				seg[i] = byte(rng.Uint32())
			}
			want = append(want, seg...)
			for rest := seg; len(rest) > 0; {
				n := min(len(rest), rng.IntN(20)+1)
				if rng.IntN(10) == 0 {
					n = len(rest)
				}
				if _, err := e.Write(rest[:n]); err != nil {
					t.Fatal(err)
				}
				rest = rest[n:]
			}
			if err := e.endSegment(); err != nil {
				t.Fatal(err)
			}
			if buf.Len()%4 != 0 {
				t.Fatalf("round %d: segment not padded: %d characters", round, buf.Len())
			}
		}
		if got := decodeGroups(t, buf.Bytes()); !bytes.Equal(got, want) {
			t.Fatalf("round %d: group decoding differs", round)
		}
		got, err := io.ReadAll(newTextDecoder(io.NopCloser(&buf)))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("round %d: textDecoder: %v", round, err)
		}
	}
}

func TestFrameScanner(t *testing.T) {
	stream := append(frame(0, []byte("abc")), frame(0, nil)...)
	stream = append(stream, frame(1, bytes.Repeat([]byte{7}, 300))...)
	ends := []int{8, 13, 318} // offsets just past each frame
	for _, size := range []int{1, 2, 5, 9, 400} {
		var s frameScanner
		var got []int
		off := 0
		for off < len(stream) {
			chunk := stream[off:min(off+size, len(stream))]
			for len(chunk) > 0 {
				n, end := s.advance(chunk)
				off += n
				chunk = chunk[n:]
				if end {
					got = append(got, off)
				}
			}
		}
		if len(got) != len(ends) || got[0] != ends[0] || got[1] != ends[1] || got[2] != ends[2] {
			t.Fatalf("size %d: frame ends %v, want %v", size, got, ends)
		}
	}
}

func TestTrailerFrame(t *testing.T) {
	got := trailerFrame(map[string][]string{
		"grpc-status":  {"0"},
		"grpc-message": {"ok%20then"},
		"x-multi":      {"a", "b"},
		"x-bad":        {"evil\r\ninjected: 1"},
	})
	wantBody := "grpc-message: ok%20then\r\ngrpc-status: 0\r\nx-multi: a\r\nx-multi: b\r\n"
	if got[0] != trailerFlag || string(got[5:]) != wantBody {
		t.Fatalf("frame %q", got)
	}
	if n := int(got[1])<<24 | int(got[2])<<16 | int(got[3])<<8 | int(got[4]); n != len(wantBody) {
		t.Fatalf("length %d, want %d", n, len(wantBody))
	}
}

func BenchmarkTextDecode(b *testing.B) {
	for _, size := range []int{256, 64 << 10} {
		msg := bytes.Repeat([]byte("payload!"), size/8)
		in := []byte(base64.StdEncoding.EncodeToString(frame(0, msg)))
		b.Run(byteSize(size), func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			p := make([]byte, 32<<10)
			r := bytes.NewReader(in)
			for b.Loop() {
				r.Reset(in)
				d := newTextDecoder(io.NopCloser(r))
				for {
					_, err := d.Read(p)
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

func BenchmarkTextEncode(b *testing.B) {
	for _, size := range []int{256, 64 << 10} {
		f := frame(0, bytes.Repeat([]byte("payload!"), size/8))
		b.Run(byteSize(size), func(b *testing.B) {
			b.SetBytes(int64(len(f)))
			b.ReportAllocs()
			e := &textEncoder{w: io.Discard}
			for b.Loop() {
				// As a reverse proxy writes: pieces of at most 32 KiB, then the frame ends.
				for rest := f; len(rest) > 0; {
					n := min(len(rest), 32<<10)
					if _, err := e.Write(rest[:n]); err != nil {
						b.Fatal(err)
					}
					rest = rest[n:]
				}
				if err := e.endSegment(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func byteSize(n int) string {
	if n >= 1<<10 {
		return strconv.Itoa(n>>10) + "KiB"
	}
	return strconv.Itoa(n) + "B"
}

func TestTextDecoderSize(t *testing.T) {
	if n := unsafe.Sizeof(textDecoder{}); n > 4096 {
		t.Fatalf("textDecoder is %d bytes, more than one 4 KiB allocation", n)
	}
}
