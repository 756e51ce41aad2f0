package tcpproxy

import (
	"net"
	"testing"
	"time"
)

// BenchmarkPipeThroughput pushes 1 MiB per iteration from the client
// through Pipe into an upstream that discards it: kernel splice against the
// buffered path, and splice with an idle timeout (chunked ReadFrom calls).
func BenchmarkPipeThroughput(b *testing.B) {
	cases := []struct {
		name string
		m    mode
		o    Options
	}{
		{"splice", modes[0], Options{}},
		{"splice_idle_timeout", modes[0], Options{IdleTimeout: time.Minute}},
		{"buffered", modes[2], Options{}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			got := make(chan int64, 1)
			sink := func(conn *net.TCPConn) { got <- count(conn) }
			r := startPipe(b.Context(), b, c.m, sink, nil, c.o)
			b.SetBytes(int64(len(block)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := r.client.Write(block); err != nil {
					b.Fatalf("write: %v", err)
				}
			}
			_ = r.client.CloseWrite()
			if n := <-got; n != int64(b.N*len(block)) {
				b.Fatalf("upstream got %d bytes, want %d", n, b.N*len(block))
			}
			b.StopTimer()
			r.wait(b)
		})
	}
}

// count reads c to EOF and returns how many bytes it read.
func count(c *net.TCPConn) int64 {
	buf := make([]byte, 256<<10)
	var total int64
	for {
		n, err := c.Read(buf)
		total += int64(n)
		if err != nil {
			return total
		}
	}
}
