package upstream

// maglevMinSize is the smallest lookup table (a prime). Larger sets get the
// next prime above maglevSlotsPerEndpoint slots per endpoint.
const (
	maglevMinSize          = 65537
	maglevSlotsPerEndpoint = 100
)

// maglev is Google's Maglev consistent hashing (NSDI 2016, section 3.4): a
// prime-sized table filled by each member's permutation, built once per
// endpoint set. Weights are honoured by giving a member a turn in a round
// only once it has accumulated the largest weight in credit. A key's slot
// is hash mod size; a slot whose owner is not ready or is excluded defers to
// the next slot, so an endpoint going down moves only its own keys.
type maglev struct {
	table []uint32 // member index per slot
	ms    []member
	ready []bool
}

var _ picker = (*maglev)(nil)

func newMaglev(members []member) func(ready []bool) picker {
	table := buildMaglev(members)
	return func(ready []bool) picker {
		return &maglev{table: table, ms: members, ready: ready}
	}
}

func (p *maglev) pick(hash uint64, exclude []*Endpoint) *Endpoint {
	m := uint64(len(p.table))
	i := hash % m
	for {
		o := p.table[i]
		if p.ready[o] && (len(exclude) == 0 || !excluded(p.ms[o].ep, exclude)) {
			return p.ms[o].ep
		}
		if i++; i == m {
			i = 0
		}
	}
}

// buildMaglev fills the lookup table. Each member i walks its permutation
// offset+j*skip (mod size) and takes the first free slot on its turn.
func buildMaglev(ms []member) []uint32 {
	if len(ms) == 0 {
		return nil
	}
	size := nextPrime(max(maglevMinSize, len(ms)*maglevSlotsPerEndpoint))
	const empty = ^uint32(0)
	table := make([]uint32, size)
	for i := range table {
		table[i] = empty
	}
	n := len(ms)
	offset, skip, next := make([]uint64, n), make([]uint64, n), make([]uint64, n)
	credit := make([]int, n)
	maxW := 1
	for i, m := range ms {
		offset[i] = hashAddr(m.ep.addr, 0) % uint64(size)
		skip[i] = hashAddr(m.ep.addr, 1)%uint64(size-1) + 1
		maxW = max(maxW, m.weight)
	}
	for filled := 0; filled < size; {
		for i, m := range ms {
			if credit[i] += m.weight; credit[i] < maxW {
				continue
			}
			credit[i] -= maxW
			for {
				c := (offset[i] + next[i]*skip[i]) % uint64(size)
				next[i]++
				if table[c] == empty {
					table[c] = uint32(i)
					filled++
					break
				}
			}
			if filled == size {
				break
			}
		}
	}
	return table
}

// nextPrime returns the smallest prime >= n (n >= 2), by trial division;
// the table sizes involved make that instant.
func nextPrime(n int) int {
	for ; ; n++ {
		prime := n >= 2
		for d := 2; d*d <= n && prime; d++ {
			prime = n%d != 0
		}
		if prime {
			return n
		}
	}
}
