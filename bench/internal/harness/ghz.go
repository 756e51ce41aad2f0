package harness

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseGhz reads ghz's summary output (its default format). The latency is
// the p99 of the calls that ended with status OK. Requests counts those
// calls; every other gRPC status is an error. Requests/sec is ghz's own,
// over every call, like wrk's and h2load's rates.
func ParseGhz(out string) (LoadResult, error) {
	var r LoadResult
	var rps, p99, statuses bool
	count := int64(-1)
	section := ""
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		f := strings.Fields(line)
		var err error
		switch {
		case strings.HasSuffix(line, ":") && len(f) <= 3:
			// A heading: "Latency distribution:", "Status code distribution:".
			section = line
		case line == "":
			section = ""
		case len(f) == 2 && f[0] == "Count:":
			count, err = strconv.ParseInt(f[1], 10, 64)
		case len(f) == 2 && f[0] == "Requests/sec:":
			r.RPS, err = strconv.ParseFloat(f[1], 64)
			rps = true
		case section == "Latency distribution:" && len(f) == 5 && f[0] == "99" && f[2] == "in":
			r.LatencyMS, err = DurationMS(f[3] + f[4])
			p99 = true
		case section == "Status code distribution:":
			err = ghzStatus(f, &r)
			statuses = true
		}
		if err != nil {
			return r, fmt.Errorf("ghz: %q: %w", line, err)
		}
	}
	if !rps || count < 0 || !statuses {
		return r, fmt.Errorf("ghz: output lacks Count, Requests/sec or the status codes")
	}
	if r.Requests+r.Errors != count {
		return r, fmt.Errorf("ghz: status codes add up to %d, Count is %d", r.Requests+r.Errors, count)
	}
	if !p99 && r.Requests > 0 {
		return r, fmt.Errorf("ghz: output lacks the 99 %% latency")
	}
	return r, nil
}

// ghzStatus adds one "[Code] N responses" line to r: OK to Requests,
// any other code to Errors.
func ghzStatus(f []string, r *LoadResult) error {
	if len(f) != 3 || f[2] != "responses" || !strings.HasPrefix(f[0], "[") || !strings.HasSuffix(f[0], "]") {
		return fmt.Errorf("not a status line")
	}
	n, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return fmt.Errorf("count: %w", err)
	}
	if f[0] == "[OK]" {
		r.Requests += n
	} else {
		r.Errors += n
	}
	return nil
}
