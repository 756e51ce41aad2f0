package upstream

import "math/rand/v2"

// p2cTries is how many random pairs a pick draws before it falls back to a
// scan; only excluded endpoints (retries) make a draw miss.
const p2cTries = 4

// leastRequest is power of two choices on in-flight requests: draw two
// distinct ready endpoints uniformly, take the less loaded. With weights the
// load is (in-flight+1)/weight, so idle endpoints tie-break towards the
// heavier one.
type leastRequest struct {
	ms []member // ready members
}

var _ picker = (*leastRequest)(nil)

func newLeastRequest(members []member) func(ready []bool) picker {
	return func(ready []bool) picker {
		return &leastRequest{ms: readyOnly(members, ready)}
	}
}

func (p *leastRequest) pick(_ uint64, exclude []*Endpoint) *Endpoint {
	n := len(p.ms)
	if n == 1 {
		return p.ms[0].ep
	}
	for range p2cTries {
		i := rand.IntN(n)
		j := rand.IntN(n - 1)
		if j >= i {
			j++
		}
		if e := better(p.ms[i], p.ms[j], exclude, lighterWeighted); e != nil {
			return e
		}
	}
	return scanBest(p.ms, exclude, lighterWeighted)
}

// random is power of two choices with weighted draws: draw two endpoints at
// random in proportion to their weights, take the one with fewer requests in
// flight. With no load it follows the weights; under load it avoids the
// busier of the two.
type random struct {
	ms    []member // ready members
	cum   []uint64 // prefix sums of weights; nil when all weights are equal
	total uint64
}

var _ picker = (*random)(nil)

func newRandom(members []member) func(ready []bool) picker {
	return func(ready []bool) picker {
		ms := readyOnly(members, ready)
		p := &random{ms: ms}
		equal := true
		for _, m := range ms {
			equal = equal && m.weight == ms[0].weight
		}
		if !equal {
			p.cum = make([]uint64, len(ms))
			for i, m := range ms {
				p.total += uint64(m.weight)
				p.cum[i] = p.total
			}
		}
		return p
	}
}

func (p *random) pick(_ uint64, exclude []*Endpoint) *Endpoint {
	if len(p.ms) == 1 {
		return p.ms[0].ep
	}
	for range p2cTries {
		if e := better(p.draw(), p.draw(), exclude, lighterRaw); e != nil {
			return e
		}
	}
	return scanBest(p.ms, exclude, lighterRaw)
}

// draw returns one member at random, in proportion to its weight.
func (p *random) draw() member {
	if p.cum == nil {
		return p.ms[rand.IntN(len(p.ms))]
	}
	r := rand.Uint64N(p.total)
	lo, hi := 0, len(p.cum)-1
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if p.cum[mid] > r {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return p.ms[lo]
}

// lighter reports whether a is less loaded than b.
type lighter func(a, b member) bool

func lighterWeighted(a, b member) bool {
	// (ia+1)/wa < (ib+1)/wb, cross-multiplied to stay in integers.
	return (a.ep.inflight.Load()+1)*int64(b.weight) < (b.ep.inflight.Load()+1)*int64(a.weight)
}

func lighterRaw(a, b member) bool {
	return a.ep.inflight.Load() < b.ep.inflight.Load()
}

// better returns the lighter of a and b that is not excluded, or nil when
// both are. On a tie it returns a.
func better(a, b member, exclude []*Endpoint, less lighter) *Endpoint {
	aok := len(exclude) == 0 || !excluded(a.ep, exclude)
	bok := len(exclude) == 0 || !excluded(b.ep, exclude)
	switch {
	case aok && bok:
		if less(b, a) {
			return b.ep
		}
		return a.ep
	case aok:
		return a.ep
	case bok:
		return b.ep
	}
	return nil
}

// scanBest returns the lightest member not excluded. The caller guarantees
// one exists.
func scanBest(ms []member, exclude []*Endpoint, less lighter) *Endpoint {
	best := -1
	for i, m := range ms {
		if excluded(m.ep, exclude) {
			continue
		}
		if best < 0 || less(m, ms[best]) {
			best = i
		}
	}
	if best < 0 {
		return ms[0].ep // unreachable while the caller keeps its guarantee
	}
	return ms[best].ep
}
