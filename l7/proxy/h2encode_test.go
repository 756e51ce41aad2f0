package proxy

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"golang.org/x/net/http2/hpack"
)

// TestH2EncodeRequestHeaders decodes the encoder's output with x/net's
// decoder: pseudo-headers first, names lower-cased, hop-by-hop fields
// dropped, credentials never indexed, lengths in several bytes.
func TestH2EncodeRequestHeaders(t *testing.T) {
	req := httptest.NewRequest(http.MethodPatch, "http://backend.internal:8080/a/b?c=d", strings.NewReader("12345"))
	req.Host = "front.example"
	req.Header = http.Header{}
	want := map[string]string{}
	set := func(name, value string) {
		req.Header[name] = append(req.Header[name], value)
		want[strings.ToLower(name)] += value + "|"
	}
	set("Authorization", "Bearer x")
	set("Cookie", "a=b")
	set("x-lower", "v")
	set("Te", "trailers")
	for _, n := range []int{0, 126, 127, 128, 255, 256, 16383, 16384, 20000} {
		set(fmt.Sprintf("X-Len-%d", n), strings.Repeat("v", n))
	}
	for i := range 150 {
		set(fmt.Sprintf("X-Many-%03d", i), fmt.Sprint(i))
	}
	for _, hop := range []string{"Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Host", "Content-Length"} {
		req.Header.Set(hop, "dropped")
	}
	req.Trailer = http.Header{"X-Check": nil} // announced in a trailer field
	want["trailer"] = "X-Check|"
	block, size, err := encodeRequestHeaders(nil, req, true)
	if err != nil {
		t.Fatal(err)
	}
	fields, err := hpack.NewDecoder(4096, nil).DecodeFull(block)
	if err != nil {
		t.Fatal(err)
	}
	pseudo := []string{":method", "PATCH", ":scheme", "https", ":authority", "front.example", ":path", "/a/b?c=d", "content-length", "5"}
	gotSize := 0
	got := map[string]string{}
	for i, f := range fields {
		gotSize += int(f.Size())
		if i < len(pseudo)/2 {
			if f.Name != pseudo[2*i] || f.Value != pseudo[2*i+1] {
				t.Errorf("field %d is %s: %q, want %s: %q", i, f.Name, f.Value, pseudo[2*i], pseudo[2*i+1])
			}
			continue
		}
		if f.Name != strings.ToLower(f.Name) {
			t.Errorf("name %q is not lower case", f.Name)
		}
		if sensitive := f.Name == "authorization" || f.Name == "cookie"; f.Sensitive != sensitive {
			t.Errorf("%s never-indexed = %v, want %v", f.Name, f.Sensitive, sensitive)
		}
		got[f.Name] += f.Value + "|"
	}
	if len(got) != len(want) {
		t.Errorf("%d distinct fields, want %d", len(got), len(want))
	}
	for name, v := range want {
		if got[name] != v {
			t.Errorf("%s = %.40q, want %.40q", name, got[name], v)
		}
	}
	if size != gotSize {
		t.Errorf("size %d, want %d (RFC 9113 6.5.2)", size, gotSize)
	}
}

// TestH2HpackInt checks the integer encoding against RFC 7541 C.1.
func TestH2HpackInt(t *testing.T) {
	for _, tc := range []struct {
		n    uint
		v    uint64
		want []byte
	}{
		{5, 10, []byte{0x0a}},
		{5, 1337, []byte{0x1f, 0x9a, 0x0a}},
		{8, 42, []byte{0x2a}},
		{7, 127, []byte{0x7f, 0x00}},
		{7, 128, []byte{0x7f, 0x01}},
	} {
		if got := hpackInt(nil, 0, tc.n, tc.v); !bytes.Equal(got, tc.want) {
			t.Errorf("hpackInt(%d bits, %d) = %x, want %x", tc.n, tc.v, got, tc.want)
		}
	}
}

// TestH2EncodeRejects lists requests HTTP/2 cannot carry.
func TestH2EncodeRejects(t *testing.T) {
	for name, mod := range map[string]func(*http.Request){
		"CONNECT":       func(r *http.Request) { r.Method = http.MethodConnect },
		"upgrade":       func(r *http.Request) { r.Header.Set("Upgrade", "websocket") },
		"TE gzip":       func(r *http.Request) { r.Header.Set("Te", "gzip") },
		"bad name":      func(r *http.Request) { r.Header["Bad Name"] = []string{"x"} },
		"bad value":     func(r *http.Request) { r.Header.Set("X-A", "a\nb") },
		"bad method":    func(r *http.Request) { r.Method = "GE T" },
		"bad authority": func(r *http.Request) { r.Host = "a b" },
	} {
		t.Run(name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "http://x/", nil)
			mod(req)
			if _, _, err := encodeRequestHeaders(nil, req, false); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

// TestH2LargeHeaderBlock sends a header block over 16 KiB, which needs
// CONTINUATION frames: the server receives every field.
func TestH2LargeHeaderBlock(t *testing.T) {
	got := make(chan http.Header, 1)
	srv := h2tServer(t, func(w http.ResponseWriter, r *http.Request) { got <- r.Header }, nil)
	tr := h2tClient(t, "h2c", nil, 0)
	req := h2tRequest(t, h2tCtx(t), http.MethodGet, srv.URL, nil)
	for i := range 40 {
		req.Header.Set(fmt.Sprintf("X-Field-%d", i), strings.Repeat(string(rune('a'+i%26)), 1500))
	}
	req.Header.Set("X-Huge", strings.Repeat("h", 20000))
	res, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	h := h2tRecv(t, got, "the request")
	for name, v := range req.Header {
		if h.Get(name) != v[0] {
			t.Errorf("%s arrived as %.20q (%d bytes), want %d bytes", name, h.Get(name), len(h.Get(name)), len(v[0]))
		}
	}
}

// BenchmarkH2RoundTrip is a small POST through the client to an h2c
// server, from parallel goroutines.
func BenchmarkH2RoundTrip(b *testing.B) {
	srv := h2tServer(b, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, "ok")
	}, nil)
	tr := h2tClient(b, "h2c", nil, 0)
	payload := []byte(`{"hello":"world"}`)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/bench", bytes.NewReader(payload))
			req.Header.Set("Content-Type", "application/json")
			res, err := tr.RoundTrip(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			_ = res.Body.Close()
		}
	})
}
