package route

import (
	"cmp"
	"slices"
	"strings"
)

// Row describes one route for display, such as by `bouncer routes`. An
// empty Hosts, Path, Methods or Conditions means the route has no such
// condition.
type Row struct {
	Name       string
	Index      int    // position in the config
	Hosts      string // comma-separated, as compiled: lower case, wildcards as *.example.com
	Path       string // kind and pattern as configured: "prefix /api/", "template /v1/{id}"
	Methods    string // comma-separated, upper case
	Conditions string // header and query conditions, comma-separated
}

// rows lists routes in precedence order: grouped by their most specific
// host (exact hosts, then wildcards by suffix length, then no host), then
// as tried within a group: exact path, longer literal prefix, path kind,
// more conditions, config order.
func rows[T any](routes []*route[T]) []Row {
	sorted := slices.Clone(routes)
	slices.SortStableFunc(sorted, compareRows)
	out := make([]Row, len(sorted))
	for i, r := range sorted {
		hosts := make([]string, len(r.hosts))
		for j, h := range r.hosts {
			hosts[j] = h.String()
		}
		var conds []string
		for _, c := range r.conds.headers {
			conds = append(conds, "header "+c.String())
		}
		for _, c := range r.conds.query {
			conds = append(conds, "query "+c.String())
		}
		out[i] = Row{
			Name:       r.name,
			Index:      r.index,
			Hosts:      strings.Join(hosts, ","),
			Path:       r.pathText,
			Methods:    strings.Join(r.conds.methods, ","),
			Conditions: strings.Join(conds, ", "),
		}
	}
	return out
}

// mostSpecificHost ranks a route by its most specific host: 0 with an exact
// host (the first in order), 1 with only wildcards (the longest), 2 without
// hosts.
func mostSpecificHost[T any](r *route[T]) (rank int, host string) {
	rank = 2
	for _, h := range r.hosts {
		switch {
		case !h.wild && (rank > 0 || h.key < host):
			rank, host = 0, h.key
		case h.wild && rank >= 1 && (rank == 2 || len(h.key) > len(host)):
			rank, host = 1, h.key
		}
	}
	return rank, host
}

func compareRows[T any](a, b *route[T]) int {
	ar, ah := mostSpecificHost(a)
	br, bh := mostSpecificHost(b)
	return cmp.Or(
		cmp.Compare(ar, br),
		cmp.Compare(len(bh), len(ah)),
		strings.Compare(ah, bh),
		cmp.Compare(exactFirst(a.kind), exactFirst(b.kind)),
		cmp.Compare(len(b.literal), len(a.literal)),
		strings.Compare(a.literal, b.literal),
		compareCandidates(a, b),
	)
}

func exactFirst(k pathKind) int {
	if k == kindExact {
		return 0
	}
	return 1
}
