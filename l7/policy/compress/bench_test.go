package compress

import (
	"net/http"
	"testing"
)

// discard is a ResponseWriter that keeps nothing, so the benchmarks
// measure the compressor, not a socket.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

func benchmarkCoding(b *testing.B, accept string) {
	c, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(text(64 << 10))
	h := c.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		for i := 0; i < len(body); i += 4096 {
			_, _ = w.Write(body[i:min(i+4096, len(body))])
		}
	}))
	req, _ := http.NewRequest("GET", "http://bench/", nil)
	req.Header.Set("Accept-Encoding", accept)
	w := &discard{h: http.Header{}}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, req)
	}
}

func BenchmarkZstd(b *testing.B)     { benchmarkCoding(b, Zstd) }
func BenchmarkBrotli(b *testing.B)   { benchmarkCoding(b, Brotli) }
func BenchmarkGzip(b *testing.B)     { benchmarkCoding(b, Gzip) }
func BenchmarkIdentity(b *testing.B) { benchmarkCoding(b, "identity") }

var _ http.ResponseWriter = (*discard)(nil)
