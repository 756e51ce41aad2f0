package harness

import (
	"fmt"
	"strconv"
	"strings"
)

// LoadResult is what one load-generator run reports.
type LoadResult struct {
	RPS       float64 // requests per second over the measured run
	LatencyMS float64 // p99 (wrk, ghz) or mean (h2load), in milliseconds
	Requests  int64   // requests completed (see ParseWrk, ParseH2load, ParseGhz)
	Errors    int64   // socket errors, failed requests and error statuses
	CPU       float64 // user+system seconds used by the load generator
}

// ParseWrk reads the output of `wrk --latency`. Socket errors and wrk's
// "Non-2xx or 3xx responses" count as errors; with successOnly those
// responses are also taken off Requests, which then counts successes only.
func ParseWrk(out string, successOnly bool) (LoadResult, error) {
	var r LoadResult
	var rps, p99, reqs bool
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		var err error
		switch {
		case len(f) == 2 && f[0] == "Requests/sec:":
			r.RPS, err = strconv.ParseFloat(f[1], 64)
			rps = true
		case len(f) == 2 && f[0] == "99%":
			r.LatencyMS, err = DurationMS(f[1])
			p99 = true
		case len(f) >= 3 && f[1] == "requests" && f[2] == "in":
			r.Requests, err = strconv.ParseInt(f[0], 10, 64)
			reqs = true
		case len(f) == 5 && f[0] == "Non-2xx":
			var n int64
			n, err = strconv.ParseInt(f[4], 10, 64)
			r.Errors += n
			if successOnly {
				r.Requests -= n
			}
		case len(f) >= 2 && f[0] == "Socket" && f[1] == "errors:":
			var n int64
			n, err = sumCounts(f[2:])
			r.Errors += n
		}
		if err != nil {
			return r, fmt.Errorf("wrk: %q: %w", line, err)
		}
	}
	if !rps || !p99 || !reqs {
		return r, fmt.Errorf("wrk: output lacks requests/sec, 99%% or the request count")
	}
	return r, nil
}

// sumCounts adds the numbers of "connect 0, read 1, write 0, timeout 2".
func sumCounts(f []string) (int64, error) {
	var n int64
	for i := 1; i < len(f); i += 2 {
		v, err := strconv.ParseInt(strings.TrimSuffix(f[i], ","), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("count %q: %w", f[i], err)
		}
		n += v
	}
	return n, nil
}

// ParseH2load reads the output of h2load; the latency is the mean time for
// request, since h2load reports no percentiles. proto is the application
// protocol the run must have used ("h2" over TLS, "h2c" over plain TCP).
// Failed, errored and timed-out requests are errors, and so are 4xx and 5xx
// statuses, or with successOnly every status but 2xx; h2load counts those
// as succeeded, so they are taken off Requests.
func ParseH2load(out, proto string, successOnly bool) (LoadResult, error) {
	var r LoadResult
	var rps, mean, reqs, negotiated bool
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		f := strings.Fields(line)
		var err error
		switch {
		case line == "Application protocol: "+proto:
			negotiated = true
		case strings.HasPrefix(line, "finished in") && len(f) >= 4:
			r.RPS, err = strconv.ParseFloat(f[3], 64)
			rps = true
		case strings.HasPrefix(line, "time for request:") && len(f) >= 6:
			r.LatencyMS, err = DurationMS(f[5])
			mean = true
		case strings.HasPrefix(line, "requests:"):
			err = h2loadItems(strings.TrimPrefix(line, "requests:"), func(n int64, what string) {
				switch what {
				case "succeeded":
					r.Requests += n
				case "failed", "errored", "timeout":
					r.Errors += n
				}
			})
			reqs = true
		case strings.HasPrefix(line, "status codes:"):
			err = h2loadItems(strings.TrimPrefix(line, "status codes:"), func(n int64, what string) {
				if what == "4xx" || what == "5xx" || successOnly && what != "2xx" {
					r.Errors += n
					r.Requests -= n
				}
			})
		}
		if err != nil {
			return r, fmt.Errorf("h2load: %q: %w", line, err)
		}
	}
	if !rps || !mean || !reqs {
		return r, fmt.Errorf("h2load: output lacks req/s, time for request or requests")
	}
	if !negotiated {
		return r, fmt.Errorf("h2load: %s was not used", proto)
	}
	return r, nil
}

// h2loadItems calls fn for each "N word" of a comma-separated list.
func h2loadItems(list string, fn func(int64, string)) error {
	for _, it := range strings.Split(list, ",") {
		f := strings.Fields(it)
		if len(f) != 2 {
			return fmt.Errorf("item %q", it)
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return fmt.Errorf("item %q: %w", it, err)
		}
		fn(n, f[1])
	}
	return nil
}

// DurationMS converts wrk's, h2load's and ghz's "950ns", "512us", "1.25ms",
// "2.00s" or "1.50m" to milliseconds.
func DurationMS(s string) (float64, error) {
	for _, u := range []struct {
		suffix string
		ms     float64
	}{{"ns", 1e-6}, {"us", 1e-3}, {"ms", 1}, {"s", 1e3}, {"m", 60e3}} {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return 0, fmt.Errorf("duration %q: %w", s, err)
			}
			return v * u.ms, nil
		}
	}
	return 0, fmt.Errorf("duration %q: unknown unit", s)
}
