package harness

import (
	"math"
	"strings"
	"testing"
)

const wrkOut = `Running 1s test @ http://127.0.0.1:18080/64
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     9.38ms   11.74ms  69.28ms   86.51%
    Req/Sec     7.45k     5.30k   20.70k    90.00%
  Latency Distribution
     50%    5.25ms
     75%   11.27ms
     90%   24.40ms
     99%  580.10us
  8020 requests in 1.11s, 1.27MB read
  Socket errors: connect 0, read 2, write 1, timeout 3
  Non-2xx or 3xx responses: 4
Requests/sec:   7202.20
Transfer/sec:      1.14MB
`

const h2loadOut = `starting benchmark...
TLS Protocol: TLSv1.3
Application protocol: h2

finished in 1.03s, 4217.00 req/s, 354.75KB/s
requests: 4217 total, 4345 started, 4217 done, 4215 succeeded, 1 failed, 1 errored, 0 timeout
status codes: 4227 2xx, 0 3xx, 5 4xx, 0 5xx
traffic: 354.75KB (363264) total, 16.73KB (17136) headers (space savings 95.00%), 263.56KB (269888) data
                     min         max         mean         sd        +/- sd
time for request:     3.21ms    130.64ms     27.20ms     21.59ms    77.47%
time for connect:    33.26ms     36.23ms     34.84ms      1.27ms    50.00%
`

// TestParse reads sample outputs; with successOnly, wrk's non-2xx answers
// leave Requests and h2load's 3xx become errors.
func TestParse(t *testing.T) {
	h2c := strings.NewReplacer("protocol: h2", "protocol: h2c", "0 3xx", "2 3xx").Replace(h2loadOut)
	tests := []struct {
		name  string
		parse func() (LoadResult, error)
		want  LoadResult
	}{
		{"wrk", func() (LoadResult, error) { return ParseWrk(wrkOut, false) },
			LoadResult{RPS: 7202.20, LatencyMS: 0.5801, Requests: 8020, Errors: 10}},
		{"wrk success only", func() (LoadResult, error) { return ParseWrk(wrkOut, true) },
			LoadResult{RPS: 7202.20, LatencyMS: 0.5801, Requests: 8016, Errors: 10}},
		{"h2load", func() (LoadResult, error) { return ParseH2load(h2loadOut, "h2", false) },
			LoadResult{RPS: 4217, LatencyMS: 27.2, Requests: 4210, Errors: 7}},
		{"h2load h2c, 3xx not errors", func() (LoadResult, error) { return ParseH2load(h2c, "h2c", false) },
			LoadResult{RPS: 4217, LatencyMS: 27.2, Requests: 4210, Errors: 7}},
		{"h2load h2c, success only", func() (LoadResult, error) { return ParseH2load(h2c, "h2c", true) },
			LoadResult{RPS: 4217, LatencyMS: 27.2, Requests: 4208, Errors: 9}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := tc.parse()
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

func TestParseRejects(t *testing.T) {
	parseWrk := func(out string) (LoadResult, error) { return ParseWrk(out, false) }
	parseH2load := func(out string) (LoadResult, error) { return ParseH2load(out, "h2", false) }
	tests := []struct {
		name  string
		parse func(string) (LoadResult, error)
		out   string
	}{
		{"wrk empty", parseWrk, ""},
		{"wrk no p99", parseWrk, strings.Replace(wrkOut, "99%", "98%", 1)},
		{"wrk bad unit", parseWrk, strings.Replace(wrkOut, "580.10us", "580.10h", 1)},
		{"h2load empty", parseH2load, ""},
		{"h2load no h2", parseH2load, strings.Replace(h2loadOut, "protocol: h2", "protocol: http/1.1", 1)},
		{"h2load bad count", parseH2load, strings.Replace(h2loadOut, "4215 succeeded", "x succeeded", 1)},
		{"h2load h2 for h2c", func(out string) (LoadResult, error) { return ParseH2load(out, "h2c", true) }, h2loadOut},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.parse(tc.out); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

func TestParseDurationMS(t *testing.T) {
	tests := []struct {
		in   string
		want float64
	}{{"950ns", 0.00095}, {"512us", 0.512}, {"1.25ms", 1.25}, {"2.00s", 2000}, {"1.50m", 90000}}
	for _, tc := range tests {
		got, err := DurationMS(tc.in)
		if err != nil || !closeTo(got, tc.want) {
			t.Errorf("%s: got %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func closeTo(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }
