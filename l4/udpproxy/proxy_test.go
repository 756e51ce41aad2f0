package udpproxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// echoServer is a UDP upstream that sends every datagram back and records
// the source addresses it saw.
type echoServer struct {
	conn *net.UDPConn
	mu   sync.Mutex
	seen map[netip.AddrPort]int
}

func startEcho(t *testing.T) *echoServer {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	e := &echoServer{conn: conn, seen: make(map[netip.AddrPort]int)}
	go func() {
		buf := make([]byte, 1<<16)
		for {
			n, from, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			e.mu.Lock()
			e.seen[from]++
			e.mu.Unlock()
			_, _ = conn.WriteToUDPAddrPort(buf[:n], from)
		}
	}()
	return e
}

func (e *echoServer) addr() string { return e.conn.LocalAddr().String() }

func (e *echoServer) sources() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.seen)
}

// alternate picks the given upstreams in turn.
func alternate(upstreams ...string) Pick {
	var next atomic.Int64
	return func(netip.AddrPort, [][]byte) (string, time.Duration, error) {
		return upstreams[(next.Add(1)-1)%int64(len(upstreams))], 0, nil
	}
}

// startProxy serves a Proxy on a fresh loopback socket until the test ends;
// the returned channel yields Serve's result.
func startProxy(ctx context.Context, t *testing.T, pick Pick, o Options) (*Proxy, string, <-chan error) {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	p := New(conn, pick, o)
	ctx, cancel := context.WithCancel(ctx)
	served, done := make(chan error, 1), make(chan struct{})
	go func() {
		served <- p.Serve(ctx)
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		conn.Close()
	})
	return p, conn.LocalAddr().String(), served
}

func dialClient(t *testing.T, addr string) *net.UDPConn {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.UDPConn)
}

// roundTrip sends msg and returns the reply, within a bounded time.
func roundTrip(c *net.UDPConn, msg []byte) ([]byte, error) {
	if _, err := c.Write(msg); err != nil {
		return nil, fmt.Errorf("write: %w", err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 1<<16)
	n, err := c.Read(buf)
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	return buf[:n], nil
}

// eventually polls cond until it holds or a bounded deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(5 * time.Second)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func TestProxyRoutesRepliesToTheirClients(t *testing.T) {
	a, b := startEcho(t), startEcho(t)
	p, addr, _ := startProxy(t.Context(), t, alternate(a.addr(), b.addr()), Options{})
	const clients, messages = 4, 5
	var wg sync.WaitGroup
	for i := range clients {
		c := dialClient(t, addr)
		wg.Go(func() {
			for j := range messages {
				msg := fmt.Appendf(nil, "client %d message %d", i, j)
				got, err := roundTrip(c, msg)
				if err != nil || !bytes.Equal(got, msg) {
					t.Errorf("client %d: reply %q, %v; want %q", i, got, err, msg)
				}
			}
		})
	}
	wg.Wait()
	if n := p.Sessions(); n != clients {
		t.Errorf("sessions = %d, want %d", n, clients)
	}
	if a.sources() != clients/2 || b.sources() != clients/2 {
		t.Errorf("upstream sources = %d and %d, want %d each", a.sources(), b.sources(), clients/2)
	}
	if st := p.Stats(); st.Opened != clients || st.Failed != 0 || st.OverCap != 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestProxySessionsExpire(t *testing.T) {
	const idle = 150 * time.Millisecond
	e := startEcho(t)
	p, addr, _ := startProxy(t.Context(), t, alternate(e.addr()), Options{IdleTimeout: idle})
	busy, quiet := dialClient(t, addr), dialClient(t, addr)
	for _, c := range []*net.UDPConn{busy, quiet} {
		if _, err := roundTrip(c, []byte("hi")); err != nil {
			t.Fatal(err)
		}
	}
	// busy keeps talking for 4*idle and so keeps its one session.
	tick := time.NewTicker(idle / 5)
	defer tick.Stop()
	for range 20 {
		<-tick.C
		if _, err := roundTrip(busy, []byte("still here")); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "the quiet session to expire", func() bool { return p.Sessions() == 1 })
	eventually(t, "all sessions to expire", func() bool { return p.Sessions() == 0 })
	if _, err := roundTrip(quiet, []byte("back")); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
	if st := p.Stats(); st.Sessions != 1 || st.Opened != 3 {
		t.Errorf("stats = %+v, want 1 live of 3 opened", st)
	}
	if n := e.sources(); n != 3 {
		t.Errorf("upstream saw %d sources, want 3 (busy kept its socket)", n)
	}
}

func TestProxyMaxSessions(t *testing.T) {
	e := startEcho(t)
	p, addr, _ := startProxy(t.Context(), t, alternate(e.addr()), Options{MaxSessions: 2})
	for range 2 {
		if _, err := roundTrip(dialClient(t, addr), []byte("in")); err != nil {
			t.Fatal(err)
		}
	}
	late := dialClient(t, addr)
	_, _ = late.Write([]byte("over the cap"))
	eventually(t, "the datagram over the cap to be counted", func() bool { return p.Stats().OverCap == 1 })
	if n := p.Sessions(); n != 2 {
		t.Errorf("sessions = %d, want 2", n)
	}
	if n := e.sources(); n != 2 {
		t.Errorf("upstream saw %d sources, want 2", n)
	}
}

func TestProxyDatagramSizes(t *testing.T) {
	e := startEcho(t)
	_, addr, _ := startProxy(t.Context(), t, alternate(e.addr()), Options{})
	// 65,507 is the largest UDP payload over IPv4 (65,535 minus the IP and
	// UDP headers); a 65,535-byte payload cannot be sent at all.
	for _, size := range []int{1, 512, 1232, 65507} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			msg := make([]byte, size)
			for i := range msg {
				msg[i] = byte(i * 7)
			}
			got, err := roundTrip(dialClient(t, addr), msg)
			if err != nil || !bytes.Equal(got, msg) {
				t.Errorf("reply of %d bytes (%v), want %d bytes back", len(got), err, size)
			}
		})
	}
}

func TestProxyPickFailureDrops(t *testing.T) {
	fail := func(netip.AddrPort, [][]byte) (string, time.Duration, error) {
		return "", 0, errors.New("no healthy upstream")
	}
	p, addr, _ := startProxy(t.Context(), t, fail, Options{})
	_, _ = dialClient(t, addr).Write([]byte("lost"))
	eventually(t, "the failed pick to be counted", func() bool { return p.Stats().Failed == 1 })
	if n := p.Sessions(); n != 0 {
		t.Errorf("sessions = %d, want 0", n)
	}
}

func TestProxyServeStops(t *testing.T) {
	e := startEcho(t)
	t.Run("ctx_cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		p, addr, served := startProxy(ctx, t, alternate(e.addr()), Options{})
		if _, err := roundTrip(dialClient(t, addr), []byte("x")); err != nil {
			t.Fatal(err)
		}
		cancel()
		select {
		case err := <-served:
			if err != nil {
				t.Errorf("Serve = %v, want nil", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Serve did not return")
		}
		if n := p.Sessions(); n != 0 {
			t.Errorf("sessions after Serve = %d, want 0", n)
		}
	})
	t.Run("conn_closed", func(t *testing.T) {
		conn, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := New(conn, alternate(e.addr()), Options{})
		served := make(chan error, 1)
		go func() { served <- p.Serve(t.Context()) }()
		conn.Close()
		select {
		case err := <-served:
			if !errors.Is(err, net.ErrClosed) {
				t.Errorf("Serve = %v, want net.ErrClosed", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Serve did not return")
		}
	})
}

// hiddenConn hides the *net.UDPConn type: the generic PacketConn path.
type hiddenConn struct{ net.PacketConn }

func TestProxyGenericPacketConn(t *testing.T) {
	e := startEcho(t)
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	p := New(hiddenConn{conn}, alternate(e.addr()), Options{})
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- p.Serve(ctx) }()
	c := dialClient(t, conn.LocalAddr().String())
	for i := range 3 {
		msg := fmt.Appendf(nil, "generic %d", i)
		if got, err := roundTrip(c, msg); err != nil || !bytes.Equal(got, msg) {
			t.Errorf("reply %q, %v; want %q", got, err, msg)
		}
	}
	cancel()
	if err := <-served; err != nil {
		t.Errorf("Serve = %v", err)
	}
	if st := p.Stats(); st.Opened != 1 || st.Sessions != 0 {
		t.Errorf("stats = %+v", st)
	}
}

// TestProxyDeadUpstreamEndsSession checks that a port-unreachable reply
// ends the session, so that the client's next datagram picks again.
func TestProxyDeadUpstreamEndsSession(t *testing.T) {
	gone, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := gone.LocalAddr().String()
	gone.Close()
	live := startEcho(t)
	p, addr, _ := startProxy(t.Context(), t, alternate(dead, live.addr()), Options{})
	c := dialClient(t, addr)
	_, _ = c.Write([]byte("to the dead one"))
	eventually(t, "the dead upstream's session to end", func() bool {
		return p.Stats().Opened == 1 && p.Sessions() == 0
	})
	if got, err := roundTrip(c, []byte("again")); err != nil || string(got) != "again" {
		t.Errorf("reply %q, %v; want %q", got, err, "again")
	}
}
