package authz

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// claimRule is one RequireClaims entry: the claim at path must equal one
// of values.
type claimRule struct {
	path   string
	values map[string]struct{}
}

// compileClaims sorts the rules by path, so the first failing one reported
// does not depend on map order.
func compileClaims(m map[string][]string) ([]claimRule, error) {
	rules := make([]claimRule, 0, len(m))
	for path, vals := range m {
		if path == "" || strings.HasPrefix(path, ".") || strings.HasSuffix(path, ".") {
			return nil, fmt.Errorf("authz: require_claims: bad claim path %q", path)
		}
		if len(vals) == 0 {
			return nil, fmt.Errorf("authz: require_claims[%s]: no values", path)
		}
		set := make(map[string]struct{}, len(vals))
		for _, v := range vals {
			set[v] = struct{}{}
		}
		rules = append(rules, claimRule{path: path, values: set})
	}
	slices.SortFunc(rules, func(a, b claimRule) int { return strings.Compare(a.path, b.path) })
	return rules, nil
}

// ok reports whether claims satisfy the rule. A list claim matches when
// any element does; numbers and booleans compare in their JSON spelling.
func (c claimRule) ok(claims map[string]any) bool {
	v, found := lookup(claims, c.path)
	if !found {
		return false
	}
	return anyValue(v, func(s string) bool { _, ok := c.values[s]; return ok })
}

// lookup finds a claim by dotted path: "tenant", "org.id". A key that
// itself holds dots ("https://example.com/roles") is found whole first, so
// namespaced claims need no escaping.
func lookup(claims map[string]any, path string) (any, bool) {
	if v, ok := claims[path]; ok {
		return v, true
	}
	for i := 0; i < len(path); i++ {
		if path[i] != '.' {
			continue
		}
		if sub, ok := claims[path[:i]].(map[string]any); ok {
			if v, ok := lookup(sub, path[i+1:]); ok {
				return v, true
			}
		}
	}
	return nil, false
}

// anyValue calls match on v's scalar spelling, or on each element of a
// list, and reports whether one matched.
func anyValue(v any, match func(string) bool) bool {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			if s, ok := scalar(e); ok && match(s) {
				return true
			}
		}
		return false
	case []string:
		return slices.ContainsFunc(x, match)
	}
	s, ok := scalar(v)
	return ok && match(s)
}

func scalar(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case json.Number:
		return x.String(), true
	case int:
		return strconv.Itoa(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	}
	return "", false
}

// hasRole reports whether the claim at path grants one of want: the claim is
// a list of strings, or one string of names separated by spaces or commas.
func hasRole(claims map[string]any, path string, want []string) bool {
	v, found := lookup(claims, path)
	if !found {
		return false
	}
	if s, ok := v.(string); ok {
		for r := range strings.FieldsFuncSeq(s, func(c rune) bool { return c == ' ' || c == ',' }) {
			if slices.Contains(want, r) {
				return true
			}
		}
		return false
	}
	return anyValue(v, func(s string) bool { return slices.Contains(want, s) })
}
