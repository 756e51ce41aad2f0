package peek

import (
	"crypto/tls"
	"testing"
)

// BenchmarkPeek peeks crypto/tls hellos off one loopback connection: the
// client sends b.N hellos back to back and, since Peek reads exactly one
// hello's records, each iteration finds the next one whole.
func BenchmarkPeek(b *testing.B) {
	hello := captureHello(b, &tls.Config{ServerName: "bench.example", NextProtos: []string{"h2", "http/1.1"}})
	client, server := tcpPair(b)
	go func() {
		for range b.N {
			if _, err := client.Write(hello); err != nil {
				return
			}
		}
	}()
	b.SetBytes(int64(len(hello)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		h, _, err := Peek(server, Options{})
		if err != nil || h.SNI != "bench.example" {
			b.Fatalf("%+v, %v", h, err)
		}
	}
}

func BenchmarkParseClientHello(b *testing.B) {
	hello := captureHello(b, &tls.Config{ServerName: "bench.example", NextProtos: []string{"h2", "http/1.1"}})
	b.SetBytes(int64(len(hello)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseClientHello(hello); err != nil {
			b.Fatal(err)
		}
	}
}
