package upstream

import (
	"errors"
	"fmt"
	"math"
	"testing"
)

var algorithms = []string{"round_robin", "least_request", "random", "ring_hash", "maglev"}

func TestRoundRobinExactRotation(t *testing.T) {
	r := newRegistry(t, Options{})
	c := build(t, r, "rr", upstreamOf("", fakeAddrs(3)...))
	var seq []string
	for range 30 {
		e, err := c.Pick(0, false, nil)
		if err != nil {
			t.Fatal(err)
		}
		seq = append(seq, e.Address())
	}
	for i := range seq {
		if i >= 3 && seq[i] != seq[i-3] {
			t.Fatalf("pick %d = %s, want %s (period 3): %v", i, seq[i], seq[i-3], seq)
		}
		if i%3 == 2 && (seq[i] == seq[i-1] || seq[i] == seq[i-2] || seq[i-1] == seq[i-2]) {
			t.Fatalf("window ending at %d repeats an endpoint: %v", i, seq)
		}
	}
}

func TestRoundRobinSmooth(t *testing.T) {
	r := newRegistry(t, Options{})
	cfg := upstreamOf("round_robin", "127.0.0.1:1", "127.0.0.2:1")
	cfg.Endpoints[1].Weight = 3
	c := build(t, r, "rr", cfg)
	want := []string{"127.0.0.2:1", "127.0.0.1:1", "127.0.0.2:1", "127.0.0.2:1"}
	for i := range 8 {
		e, _ := c.Pick(0, false, nil)
		if e.Address() != want[i%4] {
			t.Fatalf("pick %d = %s, want %s (smooth 1:3 cycle b a b b)", i, e.Address(), want[i%4])
		}
	}
}

// TestWeightedDistribution checks that weights 1:3 give 25/75: exactly for
// round robin, within a tolerance for the randomised and hashed ones.
func TestWeightedDistribution(t *testing.T) {
	for _, algo := range algorithms {
		t.Run(algo, func(t *testing.T) {
			r := newRegistry(t, Options{})
			cfg := upstreamOf(algo, "127.0.0.1:1", "127.0.0.2:1")
			cfg.Endpoints[1].Weight = 3
			c := build(t, r, "w", cfg)
			const n = 20000
			got := map[string]int{}
			for i := range n {
				e, err := c.Pick(HashKey(fmt.Sprint("key-", i)), true, nil)
				if err != nil {
					t.Fatal(err)
				}
				got[e.Address()]++
			}
			share := float64(got["127.0.0.1:1"]) / n
			tol := 0.03
			switch algo {
			case "round_robin":
				tol = 0
			case "least_request":
				// Sequential picks leave no load, and with two endpoints
				// both are always drawn: (0+1)/3 < (0+1)/1, so the idle
				// tie always goes to the heavier one.
				if got["127.0.0.1:1"] != 0 {
					t.Fatalf("least_request idle tie went to the lighter endpoint %d times", got["127.0.0.1:1"])
				}
				return
			}
			if math.Abs(share-0.25) > tol {
				t.Fatalf("weight-1 endpoint got %.3f of picks, want 0.25±%.2f (%v)", share, tol, got)
			}
		})
	}
}

func TestLeastRequestPrefersIdle(t *testing.T) {
	r := newRegistry(t, Options{})
	c := build(t, r, "lr", upstreamOf("least_request", fakeAddrs(3)...))
	busy := c.Endpoints()[0]
	for range 5 {
		busy.Start()
	}
	for range 500 {
		e, _ := c.Pick(0, false, nil)
		if e == busy {
			t.Fatal("least_request picked the endpoint with 5 in flight over idle ones")
		}
	}
	spread := pickN(t, c, 3000)
	for _, a := range fakeAddrs(3)[1:] {
		if spread[a] < 1200 {
			t.Fatalf("idle endpoints should share picks evenly: %v", spread)
		}
	}
}

func TestRandomSpreadsAndAvoidsBusy(t *testing.T) {
	r := newRegistry(t, Options{})
	addrs := fakeAddrs(4)
	c := build(t, r, "rnd", upstreamOf("random", addrs...))
	const n = 20000
	got := pickN(t, c, n)
	for _, a := range addrs {
		if s := float64(got[a]) / n; math.Abs(s-0.25) > 0.03 {
			t.Fatalf("%s got %.3f of picks, want about 0.25: %v", a, s, got)
		}
	}
	busy := c.Endpoints()[0]
	busy.Start()
	got = pickN(t, c, n)
	// The busy one wins only when drawn twice: 1/16 of picks.
	if s := float64(got[busy.Address()]) / n; s > 0.1 {
		t.Fatalf("busy endpoint got %.3f of picks, want about 0.0625", s)
	}
}

func TestHashConsistentAndSpread(t *testing.T) {
	for _, algo := range []string{"ring_hash", "maglev"} {
		t.Run(algo, func(t *testing.T) {
			r := newRegistry(t, Options{})
			addrs := fakeAddrs(5)
			c := build(t, r, "h", upstreamOf(algo, addrs...))
			before := mapKeys(t, c, 10000)
			for i := range 100 {
				k := fmt.Sprintf("user-%d", i)
				for range 3 {
					if e, _ := c.Pick(HashKey(k), true, nil); e.Address() != before[k] {
						t.Fatalf("key %s went to %s then %s", k, before[k], e.Address())
					}
				}
			}
			count := map[string]int{}
			for _, a := range before {
				count[a]++
			}
			for _, a := range addrs {
				if count[a] < 1200 || count[a] > 2800 {
					t.Fatalf("keys poorly spread over endpoints: %v", count)
				}
			}
			removed := addrs[2]
			c2 := build(t, newRegistry(t, Options{}), "h", upstreamOf(algo, append(addrs[:2:2], addrs[3:]...)...))
			moved, stay := disruption(t, c2, before, removed)
			limit := 0.0 // a ring moves only the removed endpoint's keys
			if algo == "maglev" {
				limit = 0.03 // Maglev trades a little disruption for balance
			}
			if float64(moved)/float64(stay) > limit {
				t.Fatalf("removing one endpoint moved %d of %d other keys", moved, stay)
			}
		})
	}
}

// TestHashDownEndpointMovesOnlyItsKeys ejects an endpoint (not removed from
// the set): every other key must stay exactly where it was, and its keys
// must land on more than one other endpoint.
func TestHashDownEndpointMovesOnlyItsKeys(t *testing.T) {
	for _, algo := range []string{"ring_hash", "maglev"} {
		t.Run(algo, func(t *testing.T) {
			r := newRegistry(t, Options{})
			cfg := upstreamOf(algo, fakeAddrs(5)...)
			cfg.Outlier = outlierFast()
			c := build(t, r, "h", cfg)
			before := mapKeys(t, c, 5000)
			down := c.Endpoints()[1]
			ejectNow(down)
			after := mapKeys(t, c, 5000)
			heirs := map[string]bool{}
			for k, a := range before {
				switch {
				case a == down.Address():
					heirs[after[k]] = true
				case after[k] != a:
					t.Fatalf("key %s moved from ready %s to %s", k, a, after[k])
				}
			}
			if heirs[down.Address()] || len(heirs) < 2 {
				t.Fatalf("keys of the down endpoint went to %v", heirs)
			}
		})
	}
}

func mapKeys(t *testing.T, c *Cluster, n int) map[string]string {
	t.Helper()
	out := make(map[string]string, n)
	for i := range n {
		k := fmt.Sprintf("user-%d", i)
		e, err := c.Pick(HashKey(k), true, nil)
		if err != nil {
			t.Fatal(err)
		}
		out[k] = e.Address()
	}
	return out
}

// disruption counts keys not on removed that c maps elsewhere than before.
func disruption(t *testing.T, c *Cluster, before map[string]string, removed string) (moved, stay int) {
	t.Helper()
	for k, a := range before {
		if a == removed {
			continue
		}
		stay++
		if e, _ := c.Pick(HashKey(k), true, nil); e.Address() != a {
			moved++
		}
	}
	return moved, stay
}

// TestExclusion: a retry goes to an endpoint not yet tried when one is
// ready, and to a tried one rather than nowhere when none is.
func TestExclusion(t *testing.T) {
	for _, algo := range algorithms {
		t.Run(algo, func(t *testing.T) {
			r := newRegistry(t, Options{})
			c := build(t, r, "x", upstreamOf(algo, fakeAddrs(3)...))
			eps := c.Endpoints()
			for i := range 300 {
				e, err := c.Pick(uint64(i)*0x9e3779b97f4a7c15, i%2 == 0, eps[:2])
				if err != nil {
					t.Fatal(err)
				}
				if e != eps[2] {
					t.Fatalf("picked excluded %s", e.Address())
				}
			}
			e, err := c.Pick(7, true, eps)
			if err != nil || e == nil {
				t.Fatalf("all excluded: got %v, %v; want some endpoint", e, err)
			}
		})
	}
}

func TestExclusionSkipsDown(t *testing.T) {
	r := newRegistry(t, Options{})
	cfg := upstreamOf("ring_hash", fakeAddrs(3)...)
	cfg.Outlier = outlierFast()
	cfg.Outlier.MaxEjectionPercent = 100
	c := build(t, r, "x", cfg)
	eps := c.Endpoints()
	ejectNow(eps[0])
	for i := range 200 {
		e, _ := c.Pick(HashKey(fmt.Sprint(i)), true, eps[1:2])
		if e != eps[2] {
			t.Fatalf("want the only ready, untried endpoint, got %s", e.Address())
		}
	}
}

func TestNoHealthyEndpoint(t *testing.T) {
	for _, algo := range algorithms {
		t.Run(algo, func(t *testing.T) {
			r := newRegistry(t, Options{})
			cfg := upstreamOf(algo, fakeAddrs(2)...)
			cfg.Outlier = outlierFast()
			c := build(t, r, "none", cfg)
			for _, e := range c.Endpoints() {
				ejectNow(e)
			}
			if _, err := c.Pick(1, true, nil); !errors.Is(err, ErrNoHealthyEndpoint) {
				t.Fatalf("err = %v, want ErrNoHealthyEndpoint", err)
			}
		})
	}
}

func TestPickDoesNotAllocate(t *testing.T) {
	for _, algo := range algorithms {
		t.Run(algo, func(t *testing.T) {
			r := newRegistry(t, Options{})
			c := build(t, r, "a", upstreamOf(algo, fakeAddrs(10)...))
			ex := c.Endpoints()[:1]
			var h uint64
			allocs := testing.AllocsPerRun(1000, func() {
				h += 0x9e3779b97f4a7c15
				_, _ = c.Pick(h, true, ex)
			})
			if allocs != 0 {
				t.Fatalf("Pick allocates %.1f times", allocs)
			}
		})
	}
}

func TestHashKeySpreadsSimilarKeys(t *testing.T) {
	a, b := HashKey("10.0.0.1"), HashKey("10.0.0.2")
	if diff := popcount(a ^ b); diff < 16 {
		t.Fatalf("similar keys differ in only %d bits", diff)
	}
	if HashKey("x") != HashKey("x") {
		t.Fatal("HashKey is not deterministic")
	}
}

func popcount(x uint64) int {
	n := 0
	for ; x != 0; x &= x - 1 {
		n++
	}
	return n
}
