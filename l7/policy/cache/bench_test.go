package cache

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// benchWriter is a reusable ResponseWriter that keeps nothing.
type benchWriter struct {
	h    http.Header
	code int
}

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) WriteHeader(code int)        { w.code = code }
func (w *benchWriter) Write(p []byte) (int, error) { return len(p), nil }

func benchCache(b *testing.B) http.Handler {
	c, err := New(Options{}, NewMemoryStore(256<<20))
	if err != nil {
		b.Fatal(err)
	}
	body := strings.Repeat("x", 1024)
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", "1024")
		_, _ = w.Write([]byte(body))
	})
	return c.Wrap(next)
}

// BenchmarkHit is a fresh 1 KiB hit from the MemoryStore.
func BenchmarkHit(b *testing.B) {
	h := benchCache(b)
	r := httptest.NewRequest(http.MethodGet, "http://example.com/item?id=7", nil)
	h.ServeHTTP(&benchWriter{h: http.Header{}}, r)
	w := &benchWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, r)
		if w.code != http.StatusOK {
			b.Fatal(w.code)
		}
	}
}

// BenchmarkMissStore is a miss that fetches and stores a 1 KiB response.
func BenchmarkMissStore(b *testing.B) {
	h := benchCache(b)
	w := &benchWriter{h: http.Header{}}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		r, _ := http.NewRequest(http.MethodGet, "http://example.com/item?id="+strconv.Itoa(i), nil)
		clear(w.h)
		h.ServeHTTP(w, r)
	}
}
