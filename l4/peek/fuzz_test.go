package peek

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the fuzz seed corpus from crypto/tls")

const seedDir = "testdata/fuzz/FuzzParseClientHello"

// FuzzParseClientHello: any input is answered with a Hello or one of the
// documented errors, never a panic; a parsed hello is self-consistent, and
// every proper prefix of it asks for more.
func FuzzParseClientHello(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("GET / HTTP/1.1\r\n"))
	f.Add(rawHello{sni: "Fuzz.Example.", alpn: []string{"h2", "\x0a\x0a"}, versions: []uint16{0x0304}, padding: 3}.records())
	f.Add(reframe(rawHello{sni: "frag.example"}.message(), 3))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseClientHello(b)
		if err != nil {
			if !errors.Is(err, ErrNeedMore) && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrNotTLS) {
				t.Fatalf("undocumented error %v", err)
			}
			return
		}
		if h.Proto != TLS || h.Bytes <= 0 || h.Bytes > len(b) {
			t.Fatalf("bad hello %+v for %d bytes", h, len(b))
		}
		if h.SNI != strings.ToLower(h.SNI) || strings.HasSuffix(h.SNI, ".") || strings.ContainsAny(h.SNI, " \x00\x7f") {
			t.Fatalf("SNI %q not normalised", h.SNI)
		}
		if _, err := ParseClientHello(b[:h.Bytes-1]); !errors.Is(err, ErrNeedMore) {
			t.Fatalf("prefix of %d bytes: %v, want ErrNeedMore", h.Bytes-1, err)
		}
		again, err := ParseClientHello(b[:h.Bytes])
		if err != nil || fmt.Sprint(again) != fmt.Sprint(h) {
			t.Fatalf("reparse of the used bytes: %+v, %v; first %+v", again, err, h)
		}
	})
}

// TestFuzzSeeds checks the stored corpus still parses to what crypto/tls
// was configured with; with -update it captures the corpus anew.
func TestFuzzSeeds(t *testing.T) {
	for _, tc := range goHelloConfigs() {
		if tc.name == "random" {
			continue
		}
		path := filepath.Join(seedDir, tc.name)
		if *update {
			writeSeed(t, path, captureHello(t, tc.cfg))
			writeSeed(t, path+"-split", reframe(handshakeMessage(captureHello(t, tc.cfg)), 97))
		}
		for _, p := range []string{path, path + "-split"} {
			h, err := ParseClientHello(readSeed(t, p))
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			checkGoHello(t, tc, h)
		}
	}
}

func writeSeed(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", b), 0o644); err != nil {
		t.Fatal(err)
	}
}

// readSeed decodes a one-value corpus file of the form writeSeed makes.
func readSeed(t *testing.T, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to capture the corpus)", err)
	}
	body, ok := strings.CutPrefix(strings.TrimSpace(string(raw)), "go test fuzz v1\n[]byte(")
	body, ok2 := strings.CutSuffix(body, ")")
	if !ok || !ok2 {
		t.Fatalf("%s: not a []byte corpus file", path)
	}
	s, err := strconv.Unquote(body)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return []byte(s)
}
