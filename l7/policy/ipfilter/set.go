package ipfilter

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// span is an inclusive range of addresses of one family.
type span struct {
	lo, hi netip.Addr
}

// set is an immutable set of addresses: the prefixes it was built from,
// merged into sorted, disjoint spans per family, so a lookup is one binary
// search whatever the number of prefixes.
type set struct {
	v4, v6 []span
}

// newSet parses entries (CIDRs or single addresses) and merges them.
// field names the option in errors.
func newSet(field string, entries []string) (set, error) {
	var v4, v6 []span
	for i, e := range entries {
		p, err := parseEntry(e)
		if err != nil {
			return set{}, fmt.Errorf("ipfilter: %s[%d]: %w", field, i, err)
		}
		s := span{lo: p.Addr(), hi: lastAddr(p)}
		if p.Addr().Is4() {
			v4 = append(v4, s)
		} else {
			v6 = append(v6, s)
		}
	}
	return set{v4: merge(v4), v6: merge(v6)}, nil
}

// contains reports whether a (already unmapped, zone-free) is in the set.
func (s set) contains(a netip.Addr) bool {
	spans := s.v6
	if a.Is4() {
		spans = s.v4
	}
	// The first span starting after a; the one before it is the only
	// candidate, since spans are sorted and disjoint.
	i, _ := slices.BinarySearchFunc(spans, a, func(sp span, a netip.Addr) int {
		if sp.lo.Compare(a) <= 0 {
			return -1
		}
		return 1
	})
	return i > 0 && spans[i-1].hi.Compare(a) >= 0
}

func (s set) empty() bool { return len(s.v4) == 0 && len(s.v6) == 0 }

// parseEntry reads "10.0.0.0/8", "2001:db8::/32" or a single address.
// IPv4-mapped IPv6 forms are unmapped so they meet IPv4 clients; host bits
// set in a CIDR are an error, as they usually hide a typo.
func parseEntry(e string) (netip.Prefix, error) {
	e = strings.TrimSpace(e)
	if !strings.Contains(e, "/") {
		a, err := netip.ParseAddr(e)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("bad address %q", e)
		}
		if a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("address %q has a zone", e)
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(e)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("bad prefix %q", e)
	}
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("prefix %q has host bits set (did you mean %s?)", e, p.Masked())
	}
	// A masked prefix whose address is IPv4-mapped is at least a /96,
	// since narrower masks clear the ffff marker.
	if a := p.Addr(); a.Is4In6() {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p, nil
}

// lastAddr is the highest address of p (p is masked).
func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Addr()
	if a.Is4() {
		b := a.As4()
		setHostBits(b[:], p.Bits())
		return netip.AddrFrom4(b)
	}
	b := a.As16()
	setHostBits(b[:], p.Bits())
	return netip.AddrFrom16(b)
}

func setHostBits(b []byte, bits int) {
	for i := range b {
		switch {
		case bits >= 8:
			bits -= 8
		case bits > 0:
			b[i] |= 0xff >> bits
			bits = 0
		default:
			b[i] = 0xff
		}
	}
}

// merge sorts spans and joins those that overlap or touch.
func merge(spans []span) []span {
	if len(spans) == 0 {
		return nil
	}
	slices.SortFunc(spans, func(x, y span) int { return x.lo.Compare(y.lo) })
	out := spans[:1]
	for _, s := range spans[1:] {
		last := &out[len(out)-1]
		if next := last.hi.Next(); next.IsValid() && s.lo.Compare(next) > 0 {
			out = append(out, s)
			continue
		}
		if s.hi.Compare(last.hi) > 0 {
			last.hi = s.hi
		}
	}
	return slices.Clip(out)
}
