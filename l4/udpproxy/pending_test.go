package udpproxy

import (
	"context"
	"net/netip"
	"sync"
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
	pick := func(_ netip.AddrPort, grams [][]byte) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		var got []string
		for _, g := range grams {
			got = append(got, string(g))
		}
		seen = append(seen, got) // Serve's goroutine only
		if len(grams) < 2 || string(grams[0]) == "never" {
			return "", ErrWait
		}
		return echo.addr(), nil
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
