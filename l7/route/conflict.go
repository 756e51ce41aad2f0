package route

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// conflicts finds routes that can never match: for each of its hosts (or
// for any host, without hosts) an earlier route has the same conditions,
// and at equal conditions config order decides.
func conflicts[T any](routes []*route[T]) []error {
	ordered := slices.Clone(routes)
	slices.SortStableFunc(ordered, func(a, b *route[T]) int {
		return cmp.Or(cmp.Compare(a.index, b.index), cmp.Compare(a.order, b.order))
	})
	first := map[string]*route[T]{}
	var errs []error
	for _, r := range ordered {
		hosts := []string{""}
		if len(r.hosts) > 0 {
			hosts = hosts[:0]
			for _, h := range r.hosts {
				hosts = append(hosts, h.String())
			}
		}
		var earlier []*route[T]
		shadowed := true
		for _, h := range hosts {
			k := h + "\x02" + r.key
			if p, ok := first[k]; ok {
				if !slices.Contains(earlier, p) {
					earlier = append(earlier, p)
				}
				continue
			}
			first[k] = r
			shadowed = false
		}
		if shadowed {
			errs = append(errs, neverMatches(r, earlier))
		}
	}
	return errs
}

// neverMatches is the error for r, shadowed by the earlier routes.
func neverMatches[T any](r *route[T], earlier []*route[T]) error {
	names := make([]string, len(earlier))
	for i, p := range earlier {
		names[i] = fmt.Sprintf("%q (routes[%d])", p.name, p.index)
	}
	what := "conditions"
	if len(r.hosts) > 0 {
		what = "hosts and conditions"
	}
	msg := "earlier route " + names[0] + " has the same " + what
	if len(names) > 1 {
		msg = "earlier routes " + strings.Join(names, " and ") + " have the same " + what
	}
	return &Error{Name: r.name, Index: r.index, Field: "match", Err: fmt.Errorf("%w: %s", ErrNeverMatches, msg)}
}
