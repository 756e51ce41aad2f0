package harness

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseGoLoad reads the output of bench's Go load generators (tlsload,
// h3load; format in bench/loadgen/loadstat): the last line made of
// key=value fields only whose second key is requests. Its first value is
// the rate (hps or rps), requests the successful operations, errors the
// failed ones plus any session that was resumed (resumed, which tlsload
// already counts as an error, is only checked to be a number). latencyKey
// names the latency figure taken (p99_ms or mean_ms). Other lines (the
// first error, warnings) are skipped.
func ParseGoLoad(out, latencyKey string) (LoadResult, error) {
	var line string
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && strings.HasPrefix(f[1], "requests=") && allPairs(f) {
			line = l
		}
	}
	if line == "" {
		return LoadResult{}, fmt.Errorf("go load generator: no summary line")
	}
	var r LoadResult
	have := map[string]bool{}
	for i, kv := range strings.Fields(line) {
		k, v, _ := strings.Cut(kv, "=")
		var err error
		switch {
		case i == 0:
			r.RPS, err = strconv.ParseFloat(v, 64)
			k = "rate"
		case k == "requests":
			r.Requests, err = strconv.ParseInt(v, 10, 64)
		case k == "errors":
			r.Errors, err = strconv.ParseInt(v, 10, 64)
		case k == "resumed":
			_, err = strconv.ParseInt(v, 10, 64)
		case k == latencyKey:
			r.LatencyMS, err = strconv.ParseFloat(v, 64)
		}
		if err != nil {
			return r, fmt.Errorf("go load generator: %s: %w", kv, err)
		}
		have[k] = true
	}
	for _, k := range []string{"rate", "requests", "errors", latencyKey} {
		if !have[k] {
			return r, fmt.Errorf("go load generator: %q lacks %s", line, k)
		}
	}
	return r, nil
}

// allPairs reports whether every field is key=value with a key.
func allPairs(f []string) bool {
	for _, kv := range f {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return false
		}
	}
	return true
}
