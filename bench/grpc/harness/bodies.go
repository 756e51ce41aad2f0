package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/bouncer-proxy/bouncer/bench/internal/harness"
)

// writeBodies prints each REST scenario's answers and, per target, the
// top-level JSON members that differ from the reference's answer.
func writeBodies(w io.Writer, scens []harness.Scenario, bodies map[string]map[string][]byte, refs map[string]string) {
	for _, s := range scens {
		got := bodies[s.Name]
		if len(got) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n### %s (%s %s)\n\n", s.Name, s.Method, s.Path)
		names := slices.Sorted(maps.Keys(got))
		for _, t := range names {
			fmt.Fprintf(w, "- %s: `%s`\n", t, strings.TrimSpace(string(got[t])))
		}
		ref, ok := got[refs[s.Name]]
		if !ok {
			continue
		}
		for _, t := range names {
			if t != refs[s.Name] {
				fmt.Fprintf(w, "- %s vs %s: %s\n", t, refs[s.Name], jsonDiff(got[t], ref))
			}
		}
	}
}

// jsonDiff names the top-level members of two JSON objects that differ.
func jsonDiff(a, b []byte) string {
	var x, y map[string]any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return "not both JSON objects"
	}
	var diffs []string
	for k := range x {
		if _, ok := y[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("only here: %s=%v", k, x[k]))
		} else if !reflect.DeepEqual(x[k], y[k]) {
			diffs = append(diffs, fmt.Sprintf("%s: %v vs %v", k, x[k], y[k]))
		}
	}
	for k := range y {
		if _, ok := x[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("only in ref: %s=%v", k, y[k]))
		}
	}
	if len(diffs) == 0 {
		return "same members and values"
	}
	slices.Sort(diffs)
	return strings.Join(diffs, "; ")
}
