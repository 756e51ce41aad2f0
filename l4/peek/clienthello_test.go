package peek

import (
	"bytes"
	"crypto/tls"
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseClientHello(t *testing.T) {
	basic := rawHello{sni: "example.com", alpn: []string{"h2", "http/1.1"}, versions: []uint16{tls.VersionTLS13, tls.VersionTLS12}}
	msg := basic.message()
	grease := rawHello{sni: "Www.Example.COM.", alpn: []string{"\x3a\x3a", "h2"}, versions: []uint16{0x7a7a, tls.VersionTLS13}}
	padded := rawHello{sni: "big.example", alpn: []string{"h2"}, padding: 15000}
	tests := []struct {
		name     string
		in       []byte
		sni      string
		alpn     []string
		versions []uint16
		bytes    int
	}{
		{"one record", basic.records(), "example.com", []string{"h2", "http/1.1"}, []uint16{0x0304, 0x0303}, len(msg) + 5},
		{"one-byte records", reframe(msg, 1), "example.com", []string{"h2", "http/1.1"}, []uint16{0x0304, 0x0303}, 6 * len(msg)},
		{"seven-byte records", reframe(msg, 7), "example.com", []string{"h2", "http/1.1"}, []uint16{0x0304, 0x0303}, len(reframe(msg, 7))},
		{"bare message", msg, "example.com", []string{"h2", "http/1.1"}, []uint16{0x0304, 0x0303}, len(msg)},
		{"records after the hello", append(basic.records(), 0x14, 3, 3, 0, 1, 1), "example.com", []string{"h2", "http/1.1"}, []uint16{0x0304, 0x0303}, len(msg) + 5},
		{"case, trailing dot, grease", grease.records(), "www.example.com", []string{"h2"}, []uint16{0x0304}, len(grease.message()) + 5},
		{"no extensions", rawHello{noExts: true}.records(), "", nil, []uint16{0x0303}, len(rawHello{noExts: true}.message()) + 5},
		{"padding to 15 KiB", padded.records(), "big.example", []string{"h2"}, []uint16{0x0303}, len(padded.message()) + 5},
		{"unknown name type skipped", rawHello{extra: [][2][]byte{{{0, 0}, []byte{0, 4, 7, 0, 1, 'x'}}}}.records(), "", nil, []uint16{0x0303}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := ParseClientHello(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if h.Proto != TLS || h.SNI != tt.sni || !slices.Equal(h.ALPN, tt.alpn) || !slices.Equal(h.TLSVersions, tt.versions) {
				t.Fatalf("got %+v", h)
			}
			if tt.bytes >= 0 && h.Bytes != tt.bytes {
				t.Fatalf("Bytes = %d, want %d", h.Bytes, tt.bytes)
			}
		})
	}
}

func TestParseClientHelloErrors(t *testing.T) {
	good := rawHello{sni: "example.com", alpn: []string{"h2"}}
	msg := good.message()
	dupSNI := rawHello{sni: "a.example", extra: [][2][]byte{{{0, 0}, []byte{0, 4, 0, 0, 1, 'b'}}}}
	badMsg := func(edit func([]byte) []byte) []byte { return reframe(edit(slices.Clone(msg)), 1<<14) }
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrNeedMore},
		{"header only", good.records()[:5], ErrNeedMore},
		{"one byte short", good.records()[:len(msg)+4], ErrNeedMore},
		{"split, last record missing", reframe(msg, 10)[:len(reframe(msg, 10))-15], ErrNeedMore},
		{"bare, short", msg[:len(msg)-1], ErrNeedMore},
		{"application data record", []byte{0x17, 3, 3, 0, 1, 0}, ErrNotTLS},
		{"http text", []byte("GET / HTTP/1.1\r\n"), ErrNotTLS},
		{"record version 0x0905", []byte{0x16, 9, 5, 0, 1, 1}, ErrNotTLS},
		{"empty first record", []byte{0x16, 3, 1, 0, 0}, ErrNotTLS},
		{"oversized record", []byte{0x16, 3, 1, 0x40, 0x01}, ErrNotTLS},
		{"server hello", badMsg(func(b []byte) []byte { b[0] = 2; return b }), ErrMalformed},
		{"absurd length", []byte{0x16, 3, 1, 0, 4, 1, 0xff, 0xff, 0xff}, ErrMalformed},
		{"interleaved alert", append(reframe(msg, 10)[:15], 0x15, 3, 3, 0, 2, 2, 40), ErrMalformed},
		{"trailing bytes", badMsg(func(b []byte) []byte { b[3]++; return append(b, 0) }), ErrMalformed},
		{"truncated body", badMsg(func(b []byte) []byte { b[3] = 40; return b[:44] }), ErrMalformed},
		{"duplicate sni", dupSNI.records(), ErrMalformed},
		{"sni only a dot", rawHello{sni: "."}.records(), ErrMalformed},
		{"control byte in sni", rawHello{sni: "a\x00b"}.records(), ErrMalformed},
		{"empty alpn name", rawHello{alpn: []string{"h2", ""}}.records(), ErrMalformed},
		{"odd versions", rawHello{extra: [][2][]byte{{{0, 43}, []byte{3, 3, 4, 3}}}}.records(), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseClientHello(tt.in)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestParseGoHellos is the round-trip property over crypto/tls: what the
// client was told to offer is what ParseClientHello reads back, however the
// hello is framed.
func TestParseGoHellos(t *testing.T) {
	for i, tc := range goHelloConfigs() {
		hello := captureHello(t, tc.cfg)
		for _, size := range []int{1 << 14, 1, 5, 300} {
			in := hello
			if size != 1<<14 {
				in = reframe(handshakeMessage(hello), size)
			}
			h, err := ParseClientHello(in)
			if err != nil {
				t.Fatalf("%d (%s) size %d: %v", i, tc.name, size, err)
			}
			checkGoHello(t, tc, h)
			if h.Bytes != len(in) {
				t.Fatalf("%s: Bytes = %d, want %d", tc.name, h.Bytes, len(in))
			}
		}
	}
}

// goHello is a crypto/tls client configuration and what its hello offers.
type goHello struct {
	name string
	cfg  *tls.Config
	sni  string
}

// checkGoHello compares a parsed hello with the client's configuration.
func checkGoHello(t testing.TB, tc goHello, h Hello) {
	t.Helper()
	want := []uint16{tls.VersionTLS13, tls.VersionTLS12}
	if tc.cfg.MaxVersion == tls.VersionTLS12 {
		want = []uint16{tls.VersionTLS12}
	}
	if h.Proto != TLS || h.SNI != tc.sni || !slices.Equal(h.ALPN, tc.cfg.NextProtos) || !slices.Equal(h.TLSVersions, want) {
		t.Fatalf("%s: got %+v, want sni %q alpn %q versions %x", tc.name, h, tc.sni, tc.cfg.NextProtos, want)
	}
}

// goHelloConfigs are the fixed configurations (also the fuzz seeds) and a
// deterministic random sample of names and protocol lists.
func goHelloConfigs() []goHello {
	many := make([]string, 40)
	for i := range many {
		many[i] = strings.Repeat(string(rune('a'+i%26)), 1+i*3)
	}
	out := []goHello{
		{"go-default-sni-alpn", &tls.Config{ServerName: "example.com", NextProtos: []string{"h2", "http/1.1"}}, "example.com"},
		{"go-tls12-only", &tls.Config{ServerName: "api.example.org", MaxVersion: tls.VersionTLS12}, "api.example.org"},
		{"go-ip-no-sni", &tls.Config{ServerName: "127.0.0.1", NextProtos: []string{"http/1.1"}}, ""},
		{"go-x25519-mixed-case", &tls.Config{ServerName: "Mixed.Case.Example.", CurvePreferences: []tls.CurveID{tls.X25519}}, "mixed.case.example"},
		{"go-many-alpn", &tls.Config{ServerName: "alpn.example", NextProtos: many}, "alpn.example"},
	}
	var seed uint64 = 7
	rnd := func(n int) int { seed = seed*6364136223846793005 + 1442695040888963407; return int(seed>>33) % n }
	word := func(alphabet string, n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = alphabet[rnd(len(alphabet))]
		}
		return string(b)
	}
	for i := range 12 {
		labels := make([]string, 1+rnd(4))
		for j := range labels {
			labels[j] = word("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", 1+rnd(20))
		}
		name := strings.Join(labels, ".")
		var protos []string
		for range rnd(5) {
			protos = append(protos, word("abcdefghijklmnopqrstuvwxyz0123456789/.-_", 1+rnd(40)))
		}
		cfg := &tls.Config{ServerName: name, NextProtos: protos}
		if i%3 == 0 {
			cfg.MaxVersion = tls.VersionTLS12
		}
		out = append(out, goHello{"random", cfg, strings.ToLower(name)})
	}
	return out
}

func TestParseMatchesCapture(t *testing.T) {
	// A bare message and its record form parse alike.
	hello := captureHello(t, &tls.Config{ServerName: "x.example", NextProtos: []string{"h2"}})
	a, errA := ParseClientHello(hello)
	b, errB := ParseClientHello(handshakeMessage(hello))
	if errA != nil || errB != nil || a.SNI != b.SNI || !slices.Equal(a.ALPN, b.ALPN) || a.Bytes != b.Bytes+5 {
		t.Fatalf("records %+v %v; bare %+v %v", a, errA, b, errB)
	}
	if !bytes.Equal(handshakeMessage(reframe(handshakeMessage(hello), 3)), handshakeMessage(hello)) {
		t.Fatal("reframe lost bytes")
	}
}
