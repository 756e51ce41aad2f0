package h2

import (
	"bytes"
	"io"
	"net/http"
	"testing"
)

// BenchmarkServeH2 sends small POSTs in parallel through one connection
// of x/net's client; the handler echoes them. Allocations are those of
// both ends.
func BenchmarkServeH2(b *testing.B) {
	addr := serveLoopback(b, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = io.Copy(w, r.Body)
	})})
	client, tr := h2cClient(b)
	tr.StrictMaxConcurrentStreams = true // one connection, however parallel
	payload := bytes.Repeat([]byte("p"), 128)
	url := "http://" + addr + "/echo"
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 512)
		for pb.Next() {
			resp, err := client.Post(url, "application/octet-stream", bytes.NewReader(payload))
			if err != nil {
				b.Error(err)
				return
			}
			n, _ := io.ReadFull(resp.Body, buf[:len(payload)])
			_ = resp.Body.Close()
			if n != len(payload) || resp.StatusCode != 200 {
				b.Errorf("got %d bytes, status %d", n, resp.StatusCode)
				return
			}
		}
	})
}
