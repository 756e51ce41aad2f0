package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strings"
)

// series is one figure over rounds.
type series []float64

// String is "median (min–max)", or "–" when empty.
func (v series) String() string {
	if len(v) == 0 {
		return "–"
	}
	s := slices.Sorted(slices.Values(v))
	return fmt.Sprintf("%.2f (%.2f–%.2f)", median(s), s[0], s[len(s)-1])
}

// median of sorted values, 0 when empty.
func median(s []float64) float64 {
	n := len(s)
	switch {
	case n == 0:
		return 0
	case n%2 == 1:
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func medianOf(v []float64) float64 { return median(slices.Sorted(slices.Values(v))) }

// Row is a target in a scenario: absolute figures, and ratios taken within
// each round against the scenario's reference and direct.
type Row struct {
	Scenario, Target string
	Ref              bool
	RPS, LatencyMS   series
	Thrpt, Latency   series // target / reference
	ProxyCPU         series
	OpsCPU           series // (rps / cpu) / the reference's
	VsDirect         series
}

type sampleKey struct {
	round            int
	scenario, target string
}

// Summarize builds the rows in job order. refs names each scenario's
// reference; a scenario without it uses its first target.
func Summarize(samples []Sample, jobs []Job, refs map[string]string) []Row {
	used := map[sampleKey]Sample{}
	rounds := 0
	for _, s := range samples {
		if s.used() {
			used[sampleKey{s.Round, s.Scenario.Name, s.Target}] = s
		}
		rounds = max(rounds, s.Round)
	}
	var rows []Row
	for _, group := range byScenario(jobs) {
		scen := group[0].Scenario.Name
		ref := group[0].Target.Name
		for _, j := range group {
			if j.Target.Name == refs[scen] {
				ref = j.Target.Name
			}
		}
		for _, j := range group {
			row := Row{Scenario: scen, Target: j.Target.Name, Ref: j.Target.Name == ref}
			for r := 1; r <= rounds; r++ {
				row.add(used, r, ref)
			}
			rows = append(rows, row)
		}
	}
	return rows
}

// add appends round r's figures that can be taken.
func (row *Row) add(used map[sampleKey]Sample, r int, ref string) {
	t, ok := used[sampleKey{r, row.Scenario, row.Target}]
	if !ok {
		return
	}
	row.RPS = append(row.RPS, t.Result.RPS)
	row.LatencyMS = append(row.LatencyMS, t.Result.LatencyMS)
	if t.Usage.Proxy > 0 {
		row.ProxyCPU = append(row.ProxyCPU, t.Usage.Proxy)
	}
	if f, ok := used[sampleKey{r, row.Scenario, ref}]; ok && f.Result.RPS > 0 {
		row.Thrpt = append(row.Thrpt, t.Result.RPS/f.Result.RPS)
		if f.Result.LatencyMS > 0 {
			row.Latency = append(row.Latency, t.Result.LatencyMS/f.Result.LatencyMS)
		}
		if t.Usage.Proxy > 0 && f.Usage.Proxy > 0 {
			row.OpsCPU = append(row.OpsCPU, (t.Result.RPS/t.Usage.Proxy)/(f.Result.RPS/f.Usage.Proxy))
		}
	}
	if d, ok := used[sampleKey{r, row.Scenario, "direct"}]; ok && d.Result.RPS > 0 {
		row.VsDirect = append(row.VsDirect, t.Result.RPS/d.Result.RPS)
	}
}

// WriteSummary prints the rows as a Markdown table.
func WriteSummary(w io.Writer, rows []Row) {
	fmt.Fprintln(w, "| scenario | target | rps | latency ms | thrpt vs ref | lat vs ref | proxy CPU | ops/CPU vs ref | vs direct |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|")
	for _, r := range rows {
		name := r.Target
		if r.Ref {
			name = "**" + name + "** (ref)"
		}
		rps, lat, cpu := "–", "–", "–"
		if len(r.RPS) > 0 {
			rps = fmt.Sprintf("%.0f", medianOf(r.RPS))
			lat = fmt.Sprintf("%.2f", medianOf(r.LatencyMS))
		}
		if len(r.ProxyCPU) > 0 {
			cpu = fmt.Sprintf("%.2f", medianOf(r.ProxyCPU))
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %v | %v | %s | %v | %v |\n",
			r.Scenario, name, rps, lat, r.Thrpt, r.Latency, cpu, r.OpsCPU, r.VsDirect)
	}
}

// WriteRaw prints every attempt, used or not.
func WriteRaw(w io.Writer, samples []Sample) {
	fmt.Fprintln(w, "| round | try | scenario | target | status | rps | latency ms | requests | errors | window s | proxy CPU | load CPU | backend CPU | proxy core irq | foreign proxy | foreign load | note |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, s := range samples {
		u := s.Usage
		fmt.Fprintf(w, "| %d | %d | %s | %s | %s | %.1f | %s=%.3f | %d | %d | %.2f | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %s |\n",
			s.Round, s.Attempt, s.Scenario.Name, s.Target, s.Status, s.Result.RPS, s.Scenario.Latency,
			s.Result.LatencyMS, s.Result.Requests, s.Result.Errors, u.Window, u.Proxy, u.Load, u.Backend,
			u.ProxyIRQ, u.ForeignProxy, u.ForeignLoad, strings.ReplaceAll(s.Err, "|", "/"))
	}
}

// WriteNoise prints, per job, the foreign CPU its samples saw and what was
// retaken.
func WriteNoise(w io.Writer, samples []Sample, jobs []Job) {
	fmt.Fprintln(w, "| scenario | target | attempts | retaken (N) | kept noisy (n) | errors (E) | foreign proxy med/max | foreign load med/max |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
	for _, j := range jobs {
		var n, retaken, kept, errs int
		var fp, fl []float64
		for _, s := range samples {
			if s.Scenario.Name != j.Scenario.Name || s.Target != j.Target.Name {
				continue
			}
			n++
			switch s.Status {
			case statusNoisy:
				retaken++
			case statusKept:
				kept++
			case statusError:
				errs++
				continue
			}
			fp = append(fp, s.Usage.ForeignProxy)
			fl = append(fl, s.Usage.ForeignLoad)
		}
		fmt.Fprintf(w, "| %s | %s | %d | %d | %d | %d | %.2f/%.2f | %.2f/%.2f |\n", j.Scenario.Name, j.Target.Name,
			n, retaken, kept, errs, medianOf(fp), slices.Max(append(fp, 0)), medianOf(fl), slices.Max(append(fl, 0)))
	}
}

// WriteBodies prints each REST scenario's answers and, per target, the
// top-level JSON members that differ from the reference's answer.
func WriteBodies(w io.Writer, bodies map[string]map[string][]byte, refs map[string]string) {
	for _, s := range scenarios {
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
