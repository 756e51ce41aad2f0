package upstream

import (
	"cmp"
	"slices"
)

const (
	// vnodesPerWeight is the number of ring points per unit of weight.
	vnodesPerWeight = 100
	// maxRingPoints bounds the ring; larger totals are scaled down, each
	// endpoint keeping at least one point.
	maxRingPoints = 1 << 17
)

// ring is a ketama-style hash ring over every member of an endpoint set,
// built once per set. Points are sorted; owners[i] owns hashes[i].
type ring struct {
	hashes []uint64
	owners []uint32 // member index
}

// ringHash maps a key hash to the first ring point at or after it and walks
// clockwise past points whose owner is not ready or is excluded. The ring
// covers the whole set, so when an endpoint goes down only its keys move,
// and they come back when it returns.
type ringHash struct {
	r     *ring
	ms    []member
	ready []bool
}

var _ picker = (*ringHash)(nil)

func newRingHash(members []member) func(ready []bool) picker {
	r := buildRing(members)
	return func(ready []bool) picker {
		return &ringHash{r: r, ms: members, ready: ready}
	}
}

func (p *ringHash) pick(hash uint64, exclude []*Endpoint) *Endpoint {
	hs := p.r.hashes
	// First point >= hash (binary search by hand: no closure, no alloc).
	lo, hi := 0, len(hs)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if hs[mid] < hash {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	n := len(hs)
	for k := 0; ; k++ {
		i := lo + k
		for i >= n {
			i -= n
		}
		o := p.r.owners[i]
		if p.ready[o] && (len(exclude) == 0 || !excluded(p.ms[o].ep, exclude)) {
			return p.ms[o].ep
		}
	}
}

// buildRing places vnodesPerWeight points per unit of weight for every
// member, at hashAddr(address, point number).
func buildRing(ms []member) *ring {
	total := 0
	for _, m := range ms {
		total += m.weight * vnodesPerWeight
	}
	type point struct {
		h uint64
		o uint32
	}
	pts := make([]point, 0, min(total, maxRingPoints+len(ms)))
	for i, m := range ms {
		n := m.weight * vnodesPerWeight
		if total > maxRingPoints {
			n = max(1, n*maxRingPoints/total)
		}
		for k := range n {
			pts = append(pts, point{hashAddr(m.ep.addr, uint64(k)), uint32(i)})
		}
	}
	slices.SortFunc(pts, func(a, b point) int {
		return cmp.Or(cmp.Compare(a.h, b.h), cmp.Compare(a.o, b.o))
	})
	r := &ring{hashes: make([]uint64, len(pts)), owners: make([]uint32, len(pts))}
	for i, p := range pts {
		r.hashes[i], r.owners[i] = p.h, p.o
	}
	return r
}
