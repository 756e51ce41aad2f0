package proxyproto

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"net/netip"
	"strings"
	"testing"
)

// TestAppendKnownBytes checks the encoder against bytes written out by hand
// from the spec, field by field.
func TestAppendKnownBytes(t *testing.T) {
	h := NewTCP(2, src4, dst4)
	h.TLVs = []TLV{{TypeALPN, []byte("h2")}, {TypeAuthority, []byte("example.com")}}
	want := strings.Join([]string{
		"0d0a0d0a000d0a515549540a",          // signature
		"21",                                // version 2, command PROXY
		"11",                                // AF_INET, STREAM
		"001f",                              // 12 address bytes + 5 + 14 TLV bytes = 31
		"c0000201",                          // 192.0.2.1
		"c6336407",                          // 198.51.100.7
		"dc04",                              // 56324
		"01bb",                              // 443
		"010002" + "6832",                   // ALPN "h2"
		"02000b" + "6578616d706c652e636f6d", // AUTHORITY "example.com"
	}, "")
	got, err := h.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(got) != want {
		t.Fatalf("v2 encoding\n got %x\nwant %s", got, want)
	}
	v1, err := NewTCP(1, src4, dst4).Append([]byte("pre:"))
	if err != nil {
		t.Fatal(err)
	}
	if string(v1) != "pre:PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n" {
		t.Fatalf("v1 encoding %q", v1)
	}
	local, _ := Header{Version: 2, Command: Local}.Append(nil)
	if hex.EncodeToString(local) != "0d0a0d0a000d0a515549540a"+"20"+"00"+"0000" {
		t.Fatalf("v2 local encoding %x", local)
	}
}

// TestCRC32C pins the polynomial to the published CRC-32C check value and
// checks an appended checksum against the independent bit-wise reference.
func TestCRC32C(t *testing.T) {
	if got := crc32.Checksum([]byte("123456789"), castagnoli); got != 0xE3069283 {
		t.Fatalf("crc32c(123456789) = %#x, want 0xe3069283", got)
	}
	h := NewTCP(2, src4, dst4)
	h.TLVs = []TLV{{TypeAuthority, []byte("example.com")}, {TypeCRC32C, []byte("ignored")}, {TypeNoop, []byte{0, 0}}}
	b, err := h.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	at := 16 + 12 + 3 + 11 + 3 // the CRC value follows the AUTHORITY TLV and its own TLV header
	zeroed := bytes.Clone(b)
	copy(zeroed[at:at+4], []byte{0, 0, 0, 0})
	c := refCRC32C(zeroed)
	if want := []byte{byte(c >> 24), byte(c >> 16), byte(c >> 8), byte(c)}; !bytes.Equal(b[at:at+4], want) {
		t.Fatalf("checksum field %x, want %x", b[at:at+4], want)
	}
	b[20] ^= 1 // corrupt the source address: the checksum must catch it
	if _, err := Read(bufio.NewReader(bytes.NewReader(b))); !errors.Is(err, ErrInvalid) {
		t.Fatalf("corrupted header read with err %v", err)
	}
}

func TestAppendRoundTrip(t *testing.T) {
	v6 := NewTCP(2, netip.MustParseAddrPort("[2001:db8::1]:1"), netip.MustParseAddrPort("192.0.2.9:2"))
	cases := map[string]Header{
		"v1 tcp4":       NewTCP(1, src4, dst4),
		"v1 tcp6":       NewTCP(1, netip.MustParseAddrPort("[2001:db8::1]:65535"), netip.MustParseAddrPort("[::1]:0")),
		"v1 unknown":    {Version: 1},
		"v2 local":      {Version: 2},
		"v2 tcp6 mixed": v6,
		"v2 udp4":       {Version: 2, Command: Proxy, Transport: UDP4, Source: src4, Destination: dst4},
		"v2 unix":       {Version: 2, Command: Proxy, Transport: UnixDgram, SourcePath: strings.Repeat("a", 108), DestinationPath: ""},
		"v2 64 KiB":     {Version: 2, Command: Proxy, TLVs: []TLV{{TypeNoop, make([]byte, 0xFFFF-3)}}},
		"v2 tlvs crc": {Version: 2, Command: Proxy, Transport: TCP4, Source: src4, Destination: dst4, TLVs: []TLV{
			{TypeALPN, []byte("h2")}, {TypeAuthority, []byte("example.com")}, {TypeUniqueID, []byte("id-1")},
			{TypeSSL, sslValue(ClientSSL, 0, tlv(0x21, []byte("TLSv1.3")))}, {TypeNetNS, []byte("blue")}, {TypeCRC32C, nil}}},
	}
	for name, h := range cases {
		t.Run(name, func(t *testing.T) {
			b, err := h.Append(nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Read(bufio.NewReader(bytes.NewReader(b)))
			if err != nil {
				t.Fatalf("Read(%q): %v", b, err)
			}
			if !equalHeaders(got, &h, true) {
				t.Fatalf("round trip\n got %+v\nwant %+v", got, h)
			}
		})
	}
	if v6.Transport != TCP6 || !v6.Destination.Addr().Is4In6() {
		t.Fatalf("NewTCP mixed families = %+v, want TCP6 with a mapped IPv4", v6)
	}
	h := cases["v2 tlvs crc"]
	if a, _ := h.ALPN(); a != "h2" {
		t.Fatalf("ALPN() = %q", a)
	}
	if a, _ := h.Authority(); a != "example.com" {
		t.Fatalf("Authority() = %q", a)
	}
	if id, ok := h.UniqueID(); !ok || string(id) != "id-1" {
		t.Fatalf("UniqueID() = %q, %v", id, ok)
	}
}

func TestAppendRejects(t *testing.T) {
	v6 := netip.MustParseAddrPort("[2001:db8::1]:1")
	cases := map[string]Header{
		"version 3":          {Version: 3},
		"v1 tlvs":            {Version: 1, Command: Proxy, Transport: TCP4, Source: src4, Destination: dst4, TLVs: []TLV{{TypeNoop, nil}}},
		"v1 udp":             {Version: 1, Command: Proxy, Transport: UDP4, Source: src4, Destination: dst4},
		"v1 family mismatch": {Version: 1, Command: Proxy, Transport: TCP4, Source: v6, Destination: dst4},
		"v2 family mismatch": {Version: 2, Command: Proxy, Transport: TCP6, Source: v6, Destination: dst4},
		"v2 zero address":    {Version: 2, Command: Proxy, Transport: TCP4},
		"v2 zone":            {Version: 2, Command: Proxy, Transport: TCP6, Source: netip.MustParseAddrPort("[fe80::1%eth0]:1"), Destination: v6},
		"v2 local with tlvs": {Version: 2, Command: Local, TLVs: []TLV{{TypeNoop, nil}}},
		"v2 local with addr": {Version: 2, Command: Local, Transport: TCP4, Source: src4, Destination: dst4},
		"v2 command 5":       {Version: 2, Command: 5},
		"v2 transport 0x13":  {Version: 2, Command: Proxy, Transport: 0x13},
		"v2 unix long path":  {Version: 2, Command: Proxy, Transport: UnixStream, SourcePath: strings.Repeat("a", 109)},
		"v2 unix nul":        {Version: 2, Command: Proxy, Transport: UnixStream, SourcePath: "a\x00b"},
		"v2 two crcs":        {Version: 2, Command: Proxy, TLVs: []TLV{{TypeCRC32C, nil}, {TypeCRC32C, nil}}},
		"v2 unique id 129":   {Version: 2, Command: Proxy, TLVs: []TLV{{TypeUniqueID, make([]byte, 129)}}},
		"v2 ssl short":       {Version: 2, Command: Proxy, TLVs: []TLV{{TypeSSL, []byte{1}}}},
		"v2 over 64 KiB":     {Version: 2, Command: Proxy, TLVs: []TLV{{TypeNoop, make([]byte, 0xFFFF-2)}}},
	}
	for name, h := range cases {
		t.Run(name, func(t *testing.T) {
			b, err := h.Append([]byte("keep"))
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Append = %q, %v; want ErrInvalid", b, err)
			}
			if string(b) != "keep" {
				t.Fatalf("Append on error returned %q, want the input slice", b)
			}
		})
	}
}
