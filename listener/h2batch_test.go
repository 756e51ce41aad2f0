package listener

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// tcpPair is a connected pair of loopback TCP connections.
func tcpPair(t testing.TB) (client, server net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := l.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// Bytes written in many small and some large writes arrive complete and in
// order, and Close writes out what is still queued.
func TestBatchConnOrderAndCloseFlush(t *testing.T) {
	client, server := tcpPair(t)
	b := newBatchConn(server)
	var want bytes.Buffer
	for i := 0; i < 2000; i++ {
		n := 1 + i%300
		if i%250 == 0 {
			n = maxBatch + 1000 // larger than the queue bound on its own
		}
		p := make([]byte, n)
		_, _ = rand.Read(p)
		want.Write(p)
		if k, err := b.Write(p); k != n || err != nil {
			t.Fatalf("write %d: %d, %v", i, k, err)
		}
	}
	got := make(chan []byte, 1)
	go func() {
		all, _ := io.ReadAll(client)
		got <- all
	}()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if all := <-got; !bytes.Equal(all, want.Bytes()) {
		t.Fatalf("peer read %d bytes, want %d identical", len(all), want.Len())
	}
	if _, err := b.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after close: %v, want net.ErrClosed", err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
}

// A peer that never reads cannot hold Close for longer than its bound, and
// a writer blocked on the full queue gets an error.
func TestBatchConnCloseBoundedWhenPeerStalls(t *testing.T) {
	_, server := tcpPair(t) // the client side is never read
	b := newBatchConn(server)
	b.wait = 100 * time.Millisecond
	werr := make(chan error, 1)
	filled := make(chan struct{}) // closed once far more than the queue bound went in
	go func() {
		p := make([]byte, 16<<10)
		for n := 0; ; n += len(p) {
			if n == 4*maxBatch {
				close(filled)
			}
			if _, err := b.Write(p); err != nil {
				werr <- err
				return
			}
		}
	}()
	<-filled
	start := time.Now()
	_ = b.Close()
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Close took %v with a stalled peer", d)
	}
	if err := <-werr; err == nil {
		t.Fatal("blocked writer returned no error")
	}
}

// After the peer goes away, writes fail with the first error and keep
// failing.
func TestBatchConnStickyError(t *testing.T) {
	client, server := tcpPair(t)
	if tc, ok := client.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // close with RST
	}
	client.Close()
	b := newBatchConn(server)
	defer b.Close()
	p := make([]byte, 8<<10)
	var err error
	for i := 0; i < 100000 && err == nil; i++ {
		_, err = b.Write(p)
	}
	if err == nil {
		t.Fatal("writes to a reset peer never failed")
	}
	if _, err2 := b.Write(p); err2 == nil || err2.Error() != err.Error() {
		t.Fatalf("next write: %v, want the sticky %v", err2, err)
	}
}

// countConn counts the writes that reach the socket.
type countConn struct {
	net.Conn
	writes atomic.Int64
}

func (c *countConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// BenchmarkBatchConn writes frames from several goroutines, as handlers of
// many streams do through x/net, and reports socket writes per frame.
func BenchmarkBatchConn(b *testing.B) {
	client, server := tcpPair(b)
	go func() { _, _ = io.Copy(io.Discard, client) }()
	cc := &countConn{Conn: server}
	bc := newBatchConn(cc)
	frame := make([]byte, 100)
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := bc.Write(frame); err != nil {
				b.Error(err)
				return
			}
		}
	})
	_ = bc.Close()
	b.ReportMetric(float64(cc.writes.Load())/float64(b.N), "syscalls/op")
}

// With a stall bound, a peer that stops reading fails the writes once a
// socket write has waited that long, without anyone closing the conn.
func TestBatchConnStallTimeout(t *testing.T) {
	_, server := tcpPair(t) // the client side is never read
	b := newBatchConn(server)
	b.stall = 100 * time.Millisecond
	defer b.Close()
	p := make([]byte, 16<<10)
	var err error
	start := time.Now()
	for err == nil && time.Since(start) < 30*time.Second {
		_, err = b.Write(p)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("writes to a stalled peer: %v, want a timeout", err)
	}
}
