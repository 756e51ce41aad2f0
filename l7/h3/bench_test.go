package h3

import (
	"io"
	"net/http"
	"testing"
)

// BenchmarkGet is one GET over an established HTTP/3 connection on
// loopback; ns/op and allocs/op include the quic-go client's share.
func BenchmarkGet(b *testing.B) {
	payload := []byte("hello over HTTP/3")
	f := start(b, Options{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(payload)
	})})
	c := f.client(b)
	url := f.url("/bench")
	b.ReportAllocs()
	for b.Loop() {
		resp, err := c.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if n != int64(len(payload)) {
			b.Fatalf("read %d bytes", n)
		}
	}
}
