package harness

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// Series is one figure over rounds.
type Series []float64

// String is "median (min–max)", or "–" with no values.
func (v Series) String() string {
	if len(v) == 0 {
		return "–"
	}
	s := slices.Sorted(slices.Values(v))
	return fmt.Sprintf("%.2f (%.2f–%.2f)", median(s), s[0], s[len(s)-1])
}

// median of sorted values, 0 with none.
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

// medianOf is the median of unsorted values, 0 with none.
func medianOf(v []float64) float64 { return median(slices.Sorted(slices.Values(v))) }

// Row is one line of the summary: a target in a scenario, its absolute
// figures, and ratios taken within each round against the scenario's
// reference and direct.
type Row struct {
	Scenario, Target string
	Ref              bool
	RPS, LatencyMS   Series // absolute
	Thrpt, Latency   Series // target / reference
	ProxyCPU         Series // cores used by the target
	OpsCPU           Series // (rps/cpu) / reference's
	VsDirect         Series // rps / direct's
}

// sampleKey finds the used sample of a target in a round.
type sampleKey struct {
	round            int
	scenario, target string
}

// Summarize builds the summary rows, in job order. refs names each
// scenario's reference target; a scenario without it uses its first target.
func Summarize(samples []Sample, jobs []Job, refs map[string]string) []Row {
	used := make(map[sampleKey]Sample)
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

// add appends round r's figures to the row, those that can be taken.
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

// WriteSummary prints the rows as a Markdown table; latencyMS adds a column
// with the median absolute latency.
func WriteSummary(w io.Writer, rows []Row, latencyMS bool) {
	latHead, latRule := "", ""
	if latencyMS {
		latHead, latRule = " latency ms |", "---|"
	}
	fmt.Fprintf(w, "| scenario | target | rps |%s thrpt vs ref | lat vs ref | proxy CPU | ops/CPU vs ref | vs direct |\n", latHead)
	fmt.Fprintf(w, "|---|---|---|%s---|---|---|---|---|\n", latRule)
	for _, r := range rows {
		name := r.Target
		if r.Ref {
			name = "**" + name + "** (ref)"
		}
		rps, lat, cpu := "–", "–", "–"
		if len(r.RPS) > 0 {
			rps = formatRate(medianOf(r.RPS))
			lat = fmt.Sprintf("%.2f", medianOf(r.LatencyMS))
		}
		if len(r.ProxyCPU) > 0 {
			cpu = fmt.Sprintf("%.2f", medianOf(r.ProxyCPU))
		}
		if latencyMS {
			rps += " | " + lat
		}
		fmt.Fprintf(w, "| %s | %s | %s | %v | %v | %s | %v | %v |\n",
			r.Scenario, name, rps, r.Thrpt, r.Latency, cpu, r.OpsCPU, r.VsDirect)
	}
}

// formatRate prints a rate in whole units, or with two decimals when it is
// below 10 (GB/s in tcp-throughput).
func formatRate(v float64) string {
	if v < 10 {
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

// WriteRaw prints every attempt, used or not.
func WriteRaw(w io.Writer, samples []Sample) {
	fmt.Fprintln(w, "| round | try | scenario | target | status | rps | latency ms | requests | errors | window s | proxy CPU | load CPU | backend CPU | proxy core irq | foreign proxy | foreign load | note |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, s := range samples {
		u := s.Usage
		fmt.Fprintf(w, "| %d | %d | %s | %s | %s | %.1f | %s=%.3f | %d | %d | %.2f | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %s |\n",
			s.Round, s.Attempt, s.Scenario.Name, s.Target, s.Status, s.Result.RPS,
			s.Scenario.Latency, s.Result.LatencyMS, s.Result.Requests, s.Result.Errors,
			u.Window, u.Proxy, u.Load, u.Backend, u.ProxyIRQ, u.ForeignProxy, u.ForeignLoad,
			strings.ReplaceAll(s.Err, "|", "/"))
	}
}

// WriteNoise prints, per job, how much foreign CPU the samples saw and
// what was retaken.
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
		fmt.Fprintf(w, "| %s | %s | %d | %d | %d | %d | %.2f/%.2f | %.2f/%.2f |\n",
			j.Scenario.Name, j.Target.Name, n, retaken, kept, errs,
			medianOf(fp), slices.Max(append(fp, 0)), medianOf(fl), slices.Max(append(fl, 0)))
	}
}
