package udpproxy

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A Pick that needs two datagrams gets them, and the upstream then gets
// both in order before the session's replies flow; a client that never
// lets Pick decide loses its datagrams once MaxPending are held.
func TestPickWaitsForMoreDatagrams(t *testing.T) {
	echo := startEcho(t)
	var mu sync.Mutex
	var seen [][]string
	pick := func(_ netip.AddrPort, grams [][]byte) (string, time.Duration, error) {
		mu.Lock()
		defer mu.Unlock()
		var got []string
		for _, g := range grams {
			got = append(got, string(g))
		}
		seen = append(seen, got) // Serve's goroutine only
		if len(grams) < 2 || string(grams[0]) == "never" {
			return "", 0, ErrWait
		}
		return echo.addr(), 0, nil
	}
	p, addr, _ := startProxy(context.Background(), t, pick, Options{})
	c := dialClient(t, addr)
	if _, err := c.Write([]byte("one")); err != nil {
		t.Fatal(err)
	}
	reply, err := roundTrip(c, []byte("two"))
	if err != nil || (string(reply) != "one" && string(reply) != "two") {
		t.Fatalf("first reply %q, %v", reply, err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	if err != nil || string(reply)+string(buf[:n]) != "onetwo" {
		t.Fatalf("replies %q then %q (%v): both datagrams must reach the upstream, in order", reply, buf[:n], err)
	}
	mu.Lock()
	ok := len(seen) == 2 && len(seen[1]) == 2 && seen[1][0] == "one" && seen[1][1] == "two"
	mu.Unlock()
	if !ok {
		t.Fatalf("Pick saw %v", seen)
	}

	c2 := dialClient(t, addr)
	for range MaxPending {
		if _, err := c2.Write([]byte("never")); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "held datagrams dropped at the bound", func() bool { return p.Stats().Failed >= MaxPending })
	if s := p.Stats(); s.Sessions != 1 {
		t.Fatalf("stats %+v: only the first client has a session", s)
	}
}

// Each session expires by the idle timeout its pick gave, not the
// proxy's default.
func TestSessionIdleFromPick(t *testing.T) {
	echo := startEcho(t)
	var first atomic.Bool
	pick := func(netip.AddrPort, [][]byte) (string, time.Duration, error) {
		if first.CompareAndSwap(false, true) {
			return echo.addr(), 50 * time.Millisecond, nil
		}
		return echo.addr(), 0, nil // Options.IdleTimeout: a minute
	}
	p, addr, _ := startProxy(context.Background(), t, pick, Options{IdleTimeout: time.Minute})
	for _, c := range []*net.UDPConn{dialClient(t, addr), dialClient(t, addr)} {
		if _, err := roundTrip(c, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "the short-lived session to expire", func() bool { return p.Sessions() == 1 })
}

// What is held for clients whose hello is incomplete is bounded in bytes,
// not only in clients: a flood of large would-be Initials from spoofed
// addresses cannot pin MaxPendingClients × (MaxPending-1) × 64 KiB.
func TestPendingBoundedInBytes(t *testing.T) {
	p := New(nil, nil, Options{})
	big := make([]byte, 60<<10)
	for i := range MaxPendingClients {
		client := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 443)
		for range MaxPending - 1 {
			grams, _, since := p.held(client, big)
			p.hold(client, grams, since)
		}
	}
	total := 0
	for _, h := range p.pending {
		for _, g := range h.grams {
			total += len(g)
		}
	}
	if total > MaxPendingBytes {
		t.Fatalf("%d bytes held for %d clients, over %d", total, len(p.pending), MaxPendingBytes)
	}
	if total == 0 || len(p.pending) == 0 {
		t.Fatal("nothing held: the newest clients must still be waited for")
	}
}

// One client address gets at most MaxSessionsPerClient sessions, whatever
// its source ports; other addresses are not held back, and an expired
// session frees its place.
func TestSessionsPerClient(t *testing.T) {
	echo := startEcho(t)
	var n atomic.Int64
	pick := func(netip.AddrPort, [][]byte) (string, time.Duration, error) {
		if n.Add(1) == 1 {
			return echo.addr(), 50 * time.Millisecond, nil // the first session expires soon
		}
		return echo.addr(), 0, nil
	}
	p, addr, _ := startProxy(context.Background(), t, pick, Options{IdleTimeout: time.Minute, MaxSessionsPerClient: 2})
	a, b, c := dialClient(t, addr), dialClient(t, addr), dialClient(t, addr)
	for _, conn := range []*net.UDPConn{a, b} {
		if _, err := roundTrip(conn, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Write([]byte("over")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the third port of one address refused", func() bool { return p.Stats().OverCap == 1 })
	other, err := net.DialUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2)}, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := roundTrip(other, []byte("y")); err != nil {
		t.Fatalf("another address: %v", err)
	}
	eventually(t, "the short session to expire", func() bool { return p.Sessions() == 2 })
	if _, err := roundTrip(c, []byte("z")); err != nil {
		t.Fatalf("after a session of the address expired: %v", err)
	}
}
