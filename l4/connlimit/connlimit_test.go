package connlimit

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var (
	ip1 = netip.MustParseAddr("192.0.2.1")
	ip2 = netip.MustParseAddr("192.0.2.2")
)

func TestPerIPCap(t *testing.T) {
	lim := New(Limits{PerIP: 2})
	for i := range 2 {
		if r, ok := lim.Acquire(ip1); !ok {
			t.Fatalf("connection %d refused: %s", i, r)
		}
	}
	if r, ok := lim.Acquire(ip1); ok || r != PerIPCap {
		t.Fatalf("third connection: ok=%v reason=%q, want refused per_ip_cap", ok, r)
	}
	if _, ok := lim.Acquire(ip2); !ok {
		t.Fatal("another address was refused")
	}
	// An IPv4-mapped IPv6 address is the same client.
	if _, ok := lim.Acquire(netip.MustParseAddr("::ffff:192.0.2.1")); ok {
		t.Fatal("the mapped form of a capped address was admitted")
	}
	lim.Release(ip1)
	if _, ok := lim.Acquire(ip1); !ok {
		t.Fatal("refused after a release")
	}
}

func TestRate(t *testing.T) {
	lim := New(Limits{Rate: 2, Burst: 3})
	now := time.Unix(1000, 0)
	lim.now = func() time.Time { return now }
	admitted := 0
	for range 10 {
		if _, ok := lim.Acquire(ip1); ok {
			admitted++
			lim.Release(ip1)
		}
	}
	if admitted != 3 {
		t.Fatalf("burst: %d admitted, want 3", admitted)
	}
	if r, ok := lim.Acquire(ip1); ok || r != RateLimit {
		t.Fatalf("over the rate: ok=%v reason=%q", ok, r)
	}
	now = now.Add(500 * time.Millisecond) // one token at 2/s
	if _, ok := lim.Acquire(ip1); !ok {
		t.Fatal("refused after a token came back")
	}
	if _, ok := lim.Acquire(ip1); ok {
		t.Fatal("admitted with no token left")
	}
	if _, ok := lim.Acquire(ip2); !ok {
		t.Fatal("another address shares the first one's bucket")
	}
}

// Idle entries go at a sweep once their bucket is full again; entries
// with connections stay.
func TestSweep(t *testing.T) {
	lim := New(Limits{PerIP: 5, Rate: 1, Burst: 1})
	now := time.Unix(1000, 0)
	lim.now = func() time.Time { return now }
	lim.Acquire(ip1)
	lim.Acquire(ip2)
	lim.Release(ip2)
	lim.Sweep()
	if n := lim.Tracked(); n != 2 {
		t.Fatalf("tracked %d, want 2 (ip2's bucket is refilling)", n)
	}
	now = now.Add(2 * time.Second)
	lim.Sweep()
	if n := lim.Tracked(); n != 1 {
		t.Fatalf("tracked %d after the refill, want 1 (ip1 holds a connection)", n)
	}
}

func TestTableFull(t *testing.T) {
	lim := New(Limits{PerIP: 1, MaxTracked: shardCount}) // one address per shard
	refused := 0
	for i := range 4 * shardCount {
		a := netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
		if r, ok := lim.Acquire(a); !ok {
			if r != TableFull {
				t.Fatalf("reason %q", r)
			}
			refused++
		}
	}
	if lim.Tracked() > shardCount || refused == 0 {
		t.Fatalf("tracked %d, refused %d", lim.Tracked(), refused)
	}
}

// Without a rate, an address is forgotten with its last connection.
func TestReleaseForgets(t *testing.T) {
	lim := New(Limits{PerIP: 2})
	lim.Acquire(ip1)
	lim.Acquire(ip1)
	lim.Release(ip1)
	if n := lim.Tracked(); n != 1 {
		t.Fatalf("tracked %d with a connection open, want 1", n)
	}
	lim.Release(ip1)
	lim.Release(ip1) // one too many: no effect
	if n := lim.Tracked(); n != 0 {
		t.Fatalf("tracked %d after the last release, want 0", n)
	}
}

// sameShard returns n addresses that land in one shard.
func sameShard(lim *Limiter, n int) []netip.Addr {
	var out []netip.Addr
	want := lim.shard(ip1)
	for i := 0; len(out) < n; i++ {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		if lim.shard(a) == want {
			out = append(out, a)
		}
	}
	return out
}

// Acquire sweeps as it goes, so a limiter nobody sweeps neither grows
// without bound nor stays full: a new address finds room once earlier
// ones have refilled their buckets.
func TestAcquireSweeps(t *testing.T) {
	lim := New(Limits{Rate: 1, Burst: 1, MaxTracked: 2 * shardCount, Sweep: time.Minute}) // two per shard
	now := time.Unix(1000, 0)
	lim.now = func() time.Time { return now }
	addrs := sameShard(lim, 4)
	for _, a := range addrs[:2] {
		if _, ok := lim.Acquire(a); !ok {
			t.Fatalf("%s refused", a)
		}
		lim.Release(a)
	}
	if r, ok := lim.Acquire(addrs[2]); ok || r != TableFull {
		t.Fatalf("third address while both buckets refill: ok=%v reason=%q, want table_full", ok, r)
	}
	now = now.Add(2 * time.Second) // buckets full again; a full shard may be swept
	if _, ok := lim.Acquire(addrs[2]); !ok {
		t.Fatal("third address refused once the others had refilled")
	}
	if n := lim.Tracked(); n != 1 {
		t.Fatalf("tracked %d, want 1 (the idle two swept)", n)
	}
	// Not full: idle entries wait for the Sweep period.
	lim.Release(addrs[2])
	now = now.Add(2 * time.Second)
	lim.Acquire(addrs[3])
	if n := lim.Tracked(); n != 2 {
		t.Fatalf("tracked %d before the sweep period, want 2", n)
	}
	now = now.Add(time.Minute)
	lim.Acquire(ip1)
	if n := lim.Tracked(); n != 2 {
		t.Fatalf("tracked %d after the sweep period, want 2 (%s with its connection, and %s)", n, addrs[3], ip1)
	}
}

// Many goroutines on one address never hold more than the cap at once.
func TestConcurrentCap(t *testing.T) {
	const cap = 3
	lim := New(Limits{PerIP: cap})
	var active, peak atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 500 {
				if _, ok := lim.Acquire(ip1); !ok {
					continue
				}
				n := active.Add(1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				active.Add(-1)
				lim.Release(ip1)
			}
		})
	}
	wg.Wait()
	if p := peak.Load(); p > cap {
		t.Fatalf("peak %d over the cap %d", p, cap)
	}
}

func BenchmarkAcquireRelease(b *testing.B) {
	lim := New(Limits{PerIP: 100, Rate: 1e9, Burst: 1e9})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			a := netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})
			i++
			if _, ok := lim.Acquire(a); ok {
				lim.Release(a)
			}
		}
	})
}
