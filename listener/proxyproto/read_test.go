package proxyproto

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/netip"
	"strings"
	"testing"
	"testing/iotest"
)

// v2 assembles a v2 header by hand: signature, the two given bytes, the
// big-endian length of body, then body.
func v2(verCmd, fam byte, body ...[]byte) []byte {
	b := bytes.Join(body, nil)
	out := append([]byte(sigV2), verCmd, fam, byte(len(b)>>8), byte(len(b)))
	return append(out, b...)
}

// tlv encodes one TLV by hand.
func tlv(t byte, v []byte) []byte {
	return append([]byte{t, byte(len(v) >> 8), byte(len(v))}, v...)
}

var (
	ip4Block = []byte{192, 0, 2, 1, 198, 51, 100, 7, 0xDC, 0x04, 0x01, 0xBB}
	ip6Block = append(append(append(
		netip.MustParseAddr("2001:db8::1").AsSlice(),
		netip.MustParseAddr("2001:db8::2").AsSlice()...), 0x30, 0x39), 0x00, 0x50)
	src4 = netip.MustParseAddrPort("192.0.2.1:56324")
	dst4 = netip.MustParseAddrPort("198.51.100.7:443")
)

func unixBlock(src, dst string) []byte {
	b := make([]byte, 2*unixPathLen)
	copy(b, src)
	copy(b[unixPathLen:], dst)
	return b
}

func sslValue(client byte, verify uint32, subs ...[]byte) []byte {
	v := []byte{client, byte(verify >> 24), byte(verify >> 16), byte(verify >> 8), byte(verify)}
	return append(v, bytes.Join(subs, nil)...)
}

// withCRC returns h with its CRC32C TLV value (the last 4 bytes) filled in
// by the bit-wise reference below, not by the code under test.
func withCRC(h []byte) []byte {
	out := bytes.Clone(h)
	c := refCRC32C(out)
	copy(out[len(out)-4:], []byte{byte(c >> 24), byte(c >> 16), byte(c >> 8), byte(c)})
	return out
}

// refCRC32C is a bit-at-a-time CRC32C (reflected polynomial 0x82F63B78),
// independent of hash/crc32.
func refCRC32C(b []byte) uint32 {
	c := ^uint32(0)
	for _, x := range b {
		c ^= uint32(x)
		for range 8 {
			if c&1 == 1 {
				c = c>>1 ^ 0x82F63B78
			} else {
				c >>= 1
			}
		}
	}
	return ^c
}

type readCase struct {
	name string
	in   []byte
	want *Header // nil with wantErr false: no signature
	err  bool
}

var (
	long107 = "PROXY UNKNOWN " + strings.Repeat("x", maxV1-len("PROXY UNKNOWN \r\n"))
	crcBody = [][]byte{ip4Block, tlv(0x03, make([]byte, 4))}
)

// readCases is the table of TestRead; FuzzRead's seeds were made from it.
var readCases = []readCase{
	{name: "v1 tcp4", in: []byte("PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n"),
		want: &Header{Version: 1, Command: Proxy, Transport: TCP4, Source: src4, Destination: dst4}},
	{name: "v1 tcp6", in: []byte("PROXY TCP6 2001:db8::1 ::ffff:10.0.0.1 0 65535\r\n"),
		want: &Header{Version: 1, Command: Proxy, Transport: TCP6,
			Source:      netip.MustParseAddrPort("[2001:db8::1]:0"),
			Destination: netip.MustParseAddrPort("[::ffff:10.0.0.1]:65535")}},
	{name: "v1 unknown", in: []byte("PROXY UNKNOWN\r\n"), want: &Header{Version: 1}},
	{name: "v1 unknown 107 bytes", in: []byte(long107 + "\r\n"), want: &Header{Version: 1}},
	{name: "v1 108 bytes", in: []byte(long107 + "x\r\n"), err: true},
	{name: "v1 no cr", in: []byte("PROXY TCP4 192.0.2.1 198.51.100.7 1 2\n"), err: true},
	{name: "v1 double space", in: []byte("PROXY TCP4  192.0.2.1 198.51.100.7 1 2\r\n"), err: true},
	{name: "v1 trailing space", in: []byte("PROXY TCP4 192.0.2.1 198.51.100.7 1 2 \r\n"), err: true},
	{name: "v1 port leading zero", in: []byte("PROXY TCP4 192.0.2.1 198.51.100.7 01 2\r\n"), err: true},
	{name: "v1 port sign", in: []byte("PROXY TCP4 192.0.2.1 198.51.100.7 +1 2\r\n"), err: true},
	{name: "v1 port range", in: []byte("PROXY TCP4 192.0.2.1 198.51.100.7 65536 2\r\n"), err: true},
	{name: "v1 v6 in tcp4", in: []byte("PROXY TCP4 ::1 ::1 1 2\r\n"), err: true},
	{name: "v1 v4 in tcp6", in: []byte("PROXY TCP6 192.0.2.1 ::1 1 2\r\n"), err: true},
	{name: "v1 zone", in: []byte("PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n"), err: true},
	{name: "v1 ipv4 leading zero", in: []byte("PROXY TCP4 192.0.2.01 198.51.100.7 1 2\r\n"), err: true},
	{name: "v1 bad proto", in: []byte("PROXY UDP4 192.0.2.1 198.51.100.7 1 2\r\n"), err: true},
	{name: "v1 lower-case unknown", in: []byte("PROXY unknown\r\n"), err: true},
	{name: "v1 missing field", in: []byte("PROXY TCP4 192.0.2.1 198.51.100.7 1\r\n"), err: true},
	{name: "v1 truncated", in: []byte("PROXY TCP4 192.0.2.1"), err: true},
	{name: "not a signature", in: []byte("GET / HTTP/1.1\r\n\r\n")},
	{name: "lower-case proxy", in: []byte("proxy TCP4 192.0.2.1 198.51.100.7 1 2\r\n")},
	{name: "partial signature then eof", in: []byte("PROX")},
	{name: "empty", in: nil},
	{name: "v2 tcp4", in: v2(0x21, 0x11, ip4Block),
		want: &Header{Version: 2, Command: Proxy, Transport: TCP4, Source: src4, Destination: dst4}},
	{name: "v2 udp6", in: v2(0x21, 0x22, ip6Block),
		want: &Header{Version: 2, Command: Proxy, Transport: UDP6,
			Source:      netip.MustParseAddrPort("[2001:db8::1]:12345"),
			Destination: netip.MustParseAddrPort("[2001:db8::2]:80")}},
	{name: "v2 unix", in: v2(0x21, 0x31, unixBlock("/run/a.sock", "/run/b.sock")),
		want: &Header{Version: 2, Command: Proxy, Transport: UnixStream, SourcePath: "/run/a.sock", DestinationPath: "/run/b.sock"}},
	{name: "v2 local skips block", in: v2(0x20, 0x99, []byte("anything at all")), want: &Header{Version: 2}},
	{name: "v2 unspec with tlv", in: v2(0x21, 0x00, tlv(0x04, nil)),
		want: &Header{Version: 2, Command: Proxy, TLVs: []TLV{{Type: TypeNoop, Value: []byte{}}}}},
	{name: "v2 tlvs", in: v2(0x21, 0x11, ip4Block, tlv(0x01, []byte("h2")), tlv(0xE0, []byte{7})),
		want: &Header{Version: 2, Command: Proxy, Transport: TCP4, Source: src4, Destination: dst4,
			TLVs: []TLV{{TypeALPN, []byte("h2")}, {0xE0, []byte{7}}}}},
	{name: "v2 crc ok", in: withCRC(v2(0x21, 0x11, crcBody...)),
		want: &Header{Version: 2, Command: Proxy, Transport: TCP4, Source: src4, Destination: dst4,
			TLVs: []TLV{{TypeCRC32C, withCRC(v2(0x21, 0x11, crcBody...))[31:]}}}},
	{name: "v2 crc mismatch", in: v2(0x21, 0x11, ip4Block, tlv(0x03, []byte{1, 2, 3, 4})), err: true},
	{name: "v2 crc short", in: v2(0x21, 0x11, ip4Block, tlv(0x03, []byte{1, 2, 3})), err: true},
	{name: "v2 two crcs", in: v2(0x21, 0x11, ip4Block, tlv(0x03, make([]byte, 4)), tlv(0x03, make([]byte, 4))), err: true},
	{name: "v2 version 1", in: v2(0x11, 0x11, ip4Block), err: true},
	{name: "v2 command 2", in: v2(0x22, 0x11, ip4Block), err: true},
	{name: "v2 family 0x13", in: v2(0x21, 0x13, ip4Block), err: true},
	{name: "v2 family 0x41", in: v2(0x21, 0x41, ip4Block), err: true},
	{name: "v2 length below addresses", in: v2(0x21, 0x21, ip4Block), err: true},
	{name: "v2 tlv overrun", in: v2(0x21, 0x11, ip4Block, []byte{0x01, 0x00, 0x05, 'h'}), err: true},
	{name: "v2 tlv header cut", in: v2(0x21, 0x11, ip4Block, []byte{0x01, 0x00}), err: true},
	{name: "v2 unique id 129", in: v2(0x21, 0x11, ip4Block, tlv(0x05, make([]byte, 129))), err: true},
	{name: "v2 ssl short", in: v2(0x21, 0x11, ip4Block, tlv(0x20, []byte{1, 0, 0, 0})), err: true},
	{name: "v2 ssl sub overrun", in: v2(0x21, 0x11, ip4Block, tlv(0x20, sslValue(1, 0, []byte{0x21, 0, 9, 'x'}))), err: true},
	{name: "v2 body truncated", in: v2(0x21, 0x11, ip4Block)[:20], err: true},
	{name: "v2 prefix truncated", in: v2(0x21, 0x11, ip4Block)[:14], err: true},
}

// TestRead runs every case twice: whole, and one byte per read, to show
// parsing does not depend on how the bytes arrive. Bytes after a header
// (or after no header) must stay in the reader.
func TestRead(t *testing.T) {
	const tail = "TAIL"
	for _, tc := range readCases {
		for _, oneByte := range []bool{false, true} {
			name := tc.name
			if oneByte {
				name += "/one byte per read"
			}
			t.Run(name, func(t *testing.T) {
				in := append(bytes.Clone(tc.in), tail...)
				if tc.err {
					in = tc.in // the tail would change where a truncated header stops
				}
				var src io.Reader = bytes.NewReader(in)
				if oneByte {
					src = iotest.OneByteReader(src)
				}
				r := bufio.NewReaderSize(src, 128)
				h, err := Read(r)
				if tc.err {
					if !errors.Is(err, ErrInvalid) {
						t.Fatalf("Read = %+v, %v; want ErrInvalid", h, err)
					}
					return
				}
				if err != nil {
					t.Fatalf("Read: %v", err)
				}
				if !equalHeaders(h, tc.want, false) {
					t.Fatalf("Read = %+v, want %+v", h, tc.want)
				}
				rest, _ := io.ReadAll(r)
				wantRest := tail
				if tc.want == nil {
					wantRest = string(tc.in) + tail
				}
				if string(rest) != wantRest {
					t.Fatalf("left %q in the reader, want %q", rest, wantRest)
				}
			})
		}
	}
}

// equalHeaders compares headers field by field; TLV values compare by
// content, and CRC32C values are skipped when skipCRC is set.
func equalHeaders(a, b *Header, skipCRC bool) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.Version != b.Version || a.Command != b.Command || a.Transport != b.Transport ||
		a.Source != b.Source || a.Destination != b.Destination ||
		a.SourcePath != b.SourcePath || a.DestinationPath != b.DestinationPath || len(a.TLVs) != len(b.TLVs) {
		return false
	}
	for i := range a.TLVs {
		if a.TLVs[i].Type != b.TLVs[i].Type {
			return false
		}
		if !(skipCRC && a.TLVs[i].Type == TypeCRC32C) && !bytes.Equal(a.TLVs[i].Value, b.TLVs[i].Value) {
			return false
		}
	}
	return true
}

// TestReadDecidesOnFirstByte shows Read does not wait for more bytes than a
// signature needs: a peer that sent "G" and waits is answered at once.
func TestReadDecidesOnFirstByte(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	go func() { _, _ = pw.Write([]byte("G")) }()
	r := bufio.NewReader(pr)
	h, err := Read(r)
	if h != nil || err != nil {
		t.Fatalf("Read = %v, %v; want no header", h, err)
	}
	if b, _ := r.Peek(1); string(b) != "G" {
		t.Fatalf("buffered %q, want G", b)
	}
}

func TestReadSmallBuffer(t *testing.T) {
	r := bufio.NewReaderSize(strings.NewReader("PROXY UNKNOWN\r\n"), 16)
	if _, err := Read(r); err == nil {
		t.Fatal("Read accepted a 16-byte buffer for a v1 line")
	}
}

func TestSSLAccessor(t *testing.T) {
	val := sslValue(ClientSSL|ClientCertConn, 0,
		tlv(0x21, []byte("TLSv1.3")), tlv(0x22, []byte("client.example")), tlv(0x23, []byte("TLS_AES_128_GCM_SHA256")))
	h, err := Read(bufio.NewReader(bytes.NewReader(v2(0x21, 0x11, ip4Block, tlv(0x20, val)))))
	if err != nil {
		t.Fatal(err)
	}
	got, ok := h.SSL()
	want := SSLInfo{Client: 3, Version: "TLSv1.3", CN: "client.example", Cipher: "TLS_AES_128_GCM_SHA256"}
	if !ok || got != want {
		t.Fatalf("SSL() = %+v, %v; want %+v", got, ok, want)
	}
	if _, ok := (Header{}).SSL(); ok {
		t.Fatal("SSL() on a header without the TLV reported ok")
	}
}

func BenchmarkReadV2(b *testing.B) {
	h := NewTCP(2, src4, dst4)
	h.TLVs = []TLV{{TypeALPN, []byte("h2")}, {TypeAuthority, []byte("api.example.com")}, {TypeCRC32C, nil}}
	buf, err := h.Append(nil)
	if err != nil {
		b.Fatal(err)
	}
	src := bytes.NewReader(buf)
	r := bufio.NewReaderSize(src, 128)
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		src.Reset(buf)
		r.Reset(src)
		if _, err := Read(r); err != nil {
			b.Fatal(err)
		}
	}
}
