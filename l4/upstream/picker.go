package upstream

import "fmt"

// picker chooses one endpoint from an immutable ready set. The control plane
// builds it; any number of goroutines read it at once.
type picker interface {
	// pick returns a ready endpoint that is not in exclude. The caller
	// guarantees that at least one ready endpoint is not excluded (it clears
	// exclude otherwise), so a walk past excluded endpoints terminates.
	pick(hash uint64, exclude []*Endpoint) *Endpoint
}

// member is one endpoint of a cluster generation, with its weight from the
// config (summed when several entries give the same address).
type member struct {
	ep     *Endpoint
	weight int
	host   string // the config entry's host:port, sent as Host by checks
}

// policy is a load-balancing algorithm. It runs when the endpoint set
// changes and may precompute tables over the whole set (ring, Maglev table);
// the function it returns runs whenever the ready set changes, and gets one
// flag per member. At least one flag is true.
type policy func(members []member) func(ready []bool) picker

// policyFor returns the algorithm named by configs.Upstream.Balance ("" is
// round_robin) and whether it consumes the request hash.
func policyFor(balance string) (p policy, hashed bool, err error) {
	switch balance {
	case "", "round_robin":
		return newRoundRobin, false, nil
	case "least_request", "least_connections": // one algorithm: in flight means connections for L4
		return newLeastRequest, false, nil
	case "random":
		return newRandom, false, nil
	case "ring_hash":
		return newRingHash, true, nil
	case "maglev":
		return newMaglev, true, nil
	}
	return nil, false, fmt.Errorf("unknown balance %q", balance)
}

// readyOnly returns the members whose flag is set, in order.
func readyOnly(members []member, ready []bool) []member {
	out := make([]member, 0, len(members))
	for i, m := range members {
		if ready[i] {
			out = append(out, m)
		}
	}
	return out
}

// FNV-1a 64 constants.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// HashKey hashes a balancing key (header value, cookie, client IP) for
// Cluster.Pick with ring_hash or maglev. It is FNV-1a 64 followed by a
// 64-bit finaliser, so similar keys ("10.0.0.1", "10.0.0.2") land far apart.
// It does not allocate.
func HashKey(s string) uint64 {
	h := uint64(fnvOffset)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return mix64(h)
}

// hashAddr hashes an address with a salt (the virtual-node number for the
// ring, the permutation number for Maglev) without building a string.
func hashAddr(addr string, salt uint64) uint64 {
	h := uint64(fnvOffset)
	for i := 0; i < len(addr); i++ {
		h ^= uint64(addr[i])
		h *= fnvPrime
	}
	for i := 0; i < 8; i++ {
		h ^= (salt >> (8 * i)) & 0xff
		h *= fnvPrime
	}
	return mix64(h)
}

// mix64 is the MurmurHash3 64-bit finaliser: full avalanche, cheap.
func mix64(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}
