// Package loadstat is what bench's Go load generators (tlsload, h3load)
// share: each worker records its operations in its own Recorder, and the
// merged Summary is printed as the one line the harness parses
// (bench/internal/harness ParseGoLoad):
//
//	hps=4120.3 requests=41203 errors=0 resumed=0 mean_ms=3.870 p50_ms=3.650 p90_ms=5.010 p99_ms=8.220 max_ms=21.400
//
// The first key is the rate of successful operations per second over the
// measured duration (its name says what an operation is: hps for
// handshakes, rps for requests); requests counts those operations, errors
// the failed ones; the latencies are those of the successful operations.
// Further counters (resumed) follow errors. With Summary.PerOp set, the
// rate counts that many units per operation (tcpload: gbps, 1e-3 GB per
// operation of 1 MB read).
package loadstat

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Recorder collects one worker's outcomes. It is used by one goroutine.
type Recorder struct {
	lat      []time.Duration
	errs     int64
	firstErr error
}

// OK records a successful operation that took d.
func (r *Recorder) OK(d time.Duration) { r.lat = append(r.lat, d) }

// Fail records a failed operation; the first error is kept for the report.
func (r *Recorder) Fail(err error) {
	r.errs++
	if r.firstErr == nil {
		r.firstErr = err
	}
}

// Summary is the merged outcome of a run.
type Summary struct {
	Rate     string        // key of the rate: "hps" or "rps"
	Elapsed  time.Duration // the measured duration the rate is taken over
	OK       int64
	Errors   int64
	FirstErr error // first error of the first worker that had one
	Extra    []Counter
	PerOp    float64 // units of the rate per successful operation; 0 means 1
	sorted   []time.Duration
	sum      time.Duration
}

// Counter is a named count printed after errors, such as resumed sessions.
type Counter struct {
	Name  string
	Value int64
}

// Merge combines the workers' recorders into a summary over elapsed.
func Merge(rate string, elapsed time.Duration, recs []*Recorder) Summary {
	s := Summary{Rate: rate, Elapsed: elapsed}
	for _, r := range recs {
		s.sorted = append(s.sorted, r.lat...)
		s.Errors += r.errs
		if s.FirstErr == nil {
			s.FirstErr = r.firstErr
		}
	}
	slices.Sort(s.sorted)
	s.OK = int64(len(s.sorted))
	for _, d := range s.sorted {
		s.sum += d
	}
	return s
}

// Quantile is the latency below which a share q (0..1) of the successful
// operations fall (nearest rank); 0 with none.
func (s Summary) Quantile(q float64) time.Duration {
	n := len(s.sorted)
	if n == 0 {
		return 0
	}
	i := int(q*float64(n)+0.999999) - 1
	return s.sorted[min(max(i, 0), n-1)]
}

// Mean is the mean latency of the successful operations; 0 with none.
func (s Summary) Mean() time.Duration {
	if len(s.sorted) == 0 {
		return 0
	}
	return s.sum / time.Duration(len(s.sorted))
}

// Line is the summary in the format of the package comment.
func (s Summary) Line() string {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.3f", float64(d)/float64(time.Millisecond)) }
	rate := 0.0
	if s.Elapsed > 0 {
		rate = float64(s.OK) / s.Elapsed.Seconds()
	}
	if s.PerOp > 0 {
		rate *= s.PerOp
	}
	var b strings.Builder
	prec := 1
	if s.PerOp > 0 && s.PerOp < 1 {
		prec = 4 // a rate of big units, such as GB/s
	}
	fmt.Fprintf(&b, "%s=%.*f requests=%d errors=%d", s.Rate, prec, rate, s.OK, s.Errors)
	for _, c := range s.Extra {
		fmt.Fprintf(&b, " %s=%d", c.Name, c.Value)
	}
	fmt.Fprintf(&b, " mean_ms=%s p50_ms=%s p90_ms=%s p99_ms=%s max_ms=%s", ms(s.Mean()),
		ms(s.Quantile(0.5)), ms(s.Quantile(0.9)), ms(s.Quantile(0.99)), ms(s.Quantile(1)))
	return b.String()
}
