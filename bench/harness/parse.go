package main

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
)

// LoadResult is what one load-generator run reports.
type LoadResult struct {
	RPS       float64 // requests per second over the measured run
	LatencyMS float64 // p99 (wrk) or mean (h2load), in milliseconds
	Requests  int64   // requests completed
	Errors    int64   // socket errors, failed requests and non-2xx responses
	CPU       float64 // user+system seconds used by the load generator
}

// parseWrk reads the output of `wrk --latency`.
func parseWrk(out string) (LoadResult, error) {
	var r LoadResult
	var haveRPS, haveP99, haveReq bool
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 2 && f[0] == "Requests/sec:":
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				return r, fmt.Errorf("wrk: requests/sec %q: %w", f[1], err)
			}
			r.RPS, haveRPS = v, true
		case len(f) == 2 && f[0] == "99%":
			v, err := parseDurationMS(f[1])
			if err != nil {
				return r, fmt.Errorf("wrk: p99: %w", err)
			}
			r.LatencyMS, haveP99 = v, true
		case len(f) >= 3 && f[1] == "requests" && f[2] == "in":
			v, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return r, fmt.Errorf("wrk: request count %q: %w", f[0], err)
			}
			r.Requests, haveReq = v, true
		case len(f) == 5 && f[0] == "Non-2xx":
			v, err := strconv.ParseInt(f[4], 10, 64)
			if err != nil {
				return r, fmt.Errorf("wrk: non-2xx %q: %w", f[4], err)
			}
			r.Errors += v
		case len(f) >= 2 && f[0] == "Socket" && f[1] == "errors:":
			n, err := sumCounts(f[2:])
			if err != nil {
				return r, fmt.Errorf("wrk: socket errors: %w", err)
			}
			r.Errors += n
		}
	}
	if !haveRPS || !haveP99 || !haveReq {
		return r, fmt.Errorf("wrk: output lacks requests/sec, 99%% or request count")
	}
	return r, nil
}

// sumCounts adds the numbers in "connect 0, read 1, write 0, timeout 2".
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

// parseH2load reads the output of h2load; the latency is the mean time for
// request, since h2load reports no percentiles.
func parseH2load(out string) (LoadResult, error) {
	var r LoadResult
	var haveRPS, haveMean, haveReq, haveH2 bool
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		f := strings.Fields(line)
		var err error
		switch {
		case line == "Application protocol: h2":
			haveH2 = true
		case strings.HasPrefix(line, "finished in") && len(f) >= 4:
			r.RPS, err = strconv.ParseFloat(f[3], 64)
			haveRPS = true
		case strings.HasPrefix(line, "time for request:") && len(f) >= 6:
			r.LatencyMS, err = parseDurationMS(f[5])
			haveMean = true
		case strings.HasPrefix(line, "requests:"):
			err = h2loadRequests(line, &r)
			haveReq = true
		case strings.HasPrefix(line, "status codes:"):
			err = h2loadStatuses(line, &r)
		}
		if err != nil {
			return r, fmt.Errorf("h2load: %q: %w", line, err)
		}
	}
	if !haveRPS || !haveMean || !haveReq {
		return r, fmt.Errorf("h2load: output lacks req/s, time for request or requests line")
	}
	if !haveH2 {
		return r, fmt.Errorf("h2load: h2 was not negotiated with ALPN")
	}
	return r, nil
}

// h2loadRequests reads "requests: 10 total, 10 started, 10 done, 9
// succeeded, 1 failed, 0 errored, 0 timeout".
func h2loadRequests(line string, r *LoadResult) error {
	items := strings.Split(strings.TrimPrefix(line, "requests:"), ",")
	for _, it := range items {
		f := strings.Fields(it)
		if len(f) != 2 {
			return fmt.Errorf("item %q", it)
		}
		v, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return fmt.Errorf("item %q: %w", it, err)
		}
		switch f[1] {
		case "succeeded":
			r.Requests = v
		case "failed", "errored", "timeout":
			r.Errors += v
		}
	}
	return nil
}

// h2loadStatuses counts 4xx and 5xx in "status codes: 9 2xx, 0 3xx, 1 4xx,
// 0 5xx" as errors. h2load counts them as succeeded, so they are taken off
// Requests as well.
func h2loadStatuses(line string, r *LoadResult) error {
	items := strings.Split(strings.TrimPrefix(line, "status codes:"), ",")
	for _, it := range items {
		f := strings.Fields(it)
		if len(f) != 2 {
			return fmt.Errorf("item %q", it)
		}
		v, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return fmt.Errorf("item %q: %w", it, err)
		}
		if f[1] == "4xx" || f[1] == "5xx" {
			r.Errors += v
			r.Requests -= v
		}
	}
	return nil
}

// parseDurationMS converts wrk's and h2load's "512us", "1.25ms", "2.00s" or
// "1.50m" to milliseconds.
func parseDurationMS(s string) (float64, error) {
	units := []struct {
		suffix string
		ms     float64
	}{{"us", 1e-3}, {"ms", 1}, {"s", 1e3}, {"m", 60e3}}
	for _, u := range units {
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
