package proxy_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/bouncer-proxy/bouncer/l7/proxy"
)

// BenchmarkProxyH1 measures keep-alive HTTP/1.1 requests through the
// gateway to an HTTP/1.1 backend answering 64 bytes, end to end and in
// process (clients, gateway and backend share the CPUs), with the lean
// transport and with net/http's transport behind it; clients=1 is one
// connection's latency, clients=16 throughput under concurrency.
func BenchmarkProxyH1(b *testing.B) {
	payload := strings.Repeat("x", 64)
	be := newBackend(b, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, payload)
	})
	cfg := simpleConfig([]string{be.Addr}, "", "")
	for _, tc := range []struct {
		name string
		wrap func(http.RoundTripper) http.RoundTripper
	}{{"transport=std", proxy.StdH1}, {"transport=lean", nil}} {
		g := startGatewayWith(b, cfg, tc.wrap)
		for _, clients := range []int{1, 16} {
			b.Run(fmt.Sprintf("%s/clients=%d", tc.name, clients), func(b *testing.B) {
				b.ReportAllocs()
				b.SetParallelism(clients)
				b.RunParallel(func(pb *testing.PB) {
					benchClient(b, g.Addr, pb)
				})
			})
		}
	}
}

// benchClient sends GETs on one keep-alive connection while pb says so.
func benchClient(b *testing.B, addr string, pb *testing.PB) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		b.Error(err)
		return
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	req := []byte("GET /bench HTTP/1.1\r\nHost: bench\r\n\r\n")
	for pb.Next() {
		if _, err := conn.Write(req); err != nil {
			b.Error(err)
			return
		}
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			b.Error(err)
			return
		}
		n, _ := io.Copy(io.Discard, res.Body)
		_ = res.Body.Close()
		if res.StatusCode != 200 || n != 64 {
			b.Errorf("got %d with %d bytes", res.StatusCode, n)
			return
		}
	}
}
