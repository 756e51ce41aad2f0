package upstream

import "sync/atomic"

// maxCycle bounds a round-robin cycle. Weights whose sum (after dividing by
// their gcd) exceeds it are scaled down proportionally, each kept >= 1.
const maxCycle = 1 << 16

// roundRobin is smooth weighted round robin (the nginx algorithm). The whole
// cycle is computed when the ready set changes, so a pick is one atomic add
// and an index: lock-free and allocation-free. Equal weights give a plain
// rotation; weights 1:3 give b a b b.
type roundRobin struct {
	seq  []*Endpoint
	next atomic.Uint64
}

var _ picker = (*roundRobin)(nil)

func newRoundRobin(members []member) func(ready []bool) picker {
	return func(ready []bool) picker {
		return &roundRobin{seq: smoothCycle(readyOnly(members, ready))}
	}
}

// pick returns the next endpoint of the cycle, skipping excluded ones.
func (p *roundRobin) pick(_ uint64, exclude []*Endpoint) *Endpoint {
	n := uint64(len(p.seq))
	i := p.next.Add(1) - 1
	for k := uint64(0); ; k++ {
		e := p.seq[(i+k)%n]
		if len(exclude) == 0 || !excluded(e, exclude) {
			return e
		}
	}
}

// smoothCycle returns one full cycle of smooth weighted round robin: each
// step adds every weight to its current value, takes the largest (first on
// ties) and subtracts the total from it.
func smoothCycle(ms []member) []*Endpoint {
	w := cycleWeights(ms)
	total := 0
	for _, x := range w {
		total += x
	}
	cur := make([]int, len(ms))
	seq := make([]*Endpoint, 0, total)
	for range total {
		best := 0
		for i := range cur {
			cur[i] += w[i]
			if cur[i] > cur[best] {
				best = i
			}
		}
		cur[best] -= total
		seq = append(seq, ms[best].ep)
	}
	return seq
}

// cycleWeights reduces weights by their gcd and scales them below maxCycle.
func cycleWeights(ms []member) []int {
	w := make([]int, len(ms))
	g, sum := 0, 0
	for i, m := range ms {
		w[i] = max(m.weight, 1)
		g = gcd(g, w[i])
	}
	for i := range w {
		w[i] /= g
		sum += w[i]
	}
	if sum > maxCycle {
		for i := range w {
			w[i] = max(1, w[i]*maxCycle/sum)
		}
	}
	return w
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
