package harness

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// readGhz reads a ghz summary captured from a real run (ghz v0.121.0,
// GetBook against bench/grpc/backend, 4 connections x 128 workers, 2 s):
// ghz-summary.txt with --duration-stop ignore, ghz-summary-errors.txt with
// the default "close", whose cut-off calls end Unavailable.
func readGhz(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestParseGhz: Requests counts status OK only, Errors every other status,
// the latency is the 99 % line in milliseconds.
func TestParseGhz(t *testing.T) {
	tests := []struct {
		file string
		want LoadResult
	}{
		{"ghz-summary.txt", LoadResult{RPS: 7795.08, LatencyMS: 38.77, Requests: 15603}},
		{"ghz-summary-errors.txt", LoadResult{RPS: 8286.50, LatencyMS: 40.84, Requests: 16444, Errors: 126}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			r, err := ParseGhz(readGhz(t, tc.file))
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if !closeTo(r.RPS, tc.want.RPS) || !closeTo(r.LatencyMS, tc.want.LatencyMS) ||
				r.Requests != tc.want.Requests || r.Errors != tc.want.Errors {
				t.Fatalf("got %+v, want %+v", r, tc.want)
			}
		})
	}
}

// TestParseGhzUnits: ghz writes short latencies in ns and long ones in s.
func TestParseGhzUnits(t *testing.T) {
	out := readGhz(t, "ghz-summary.txt")
	tests := []struct {
		p99  string
		want float64
	}{{"9500 ns", 0.0095}, {"1.20 s", 1200}}
	for _, tc := range tests {
		r, err := ParseGhz(strings.Replace(out, "99 % in 38.77 ms", "99 % in "+tc.p99, 1))
		if err != nil || !closeTo(r.LatencyMS, tc.want) {
			t.Errorf("%s: got %v, %v; want %v", tc.p99, r.LatencyMS, err, tc.want)
		}
	}
}

func TestParseGhzRejects(t *testing.T) {
	out := readGhz(t, "ghz-summary-errors.txt")
	tests := []struct {
		name, out string
	}{
		{"empty", ""},
		{"no p99", strings.Replace(out, "99 % in", "98 % in", 1)},
		{"no status codes", strings.Replace(out, "Status code distribution:", "", 1)},
		{"counts disagree", strings.Replace(out, "Count:\t16570", "Count:\t16571", 1)},
		{"bad status line", strings.Replace(out, "126 responses", "126 answers", 1)},
		{"bad unit", strings.Replace(out, "40.84 ms", "40.84 hours", 1)},
		{"bad rate", strings.Replace(out, "8286.50", "fast", 1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseGhz(tc.out); err == nil {
				t.Fatal("no error")
			}
		})
	}
}
