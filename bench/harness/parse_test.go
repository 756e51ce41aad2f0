package main

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

func TestParseWrk(t *testing.T) {
	r, err := parseWrk(wrkOut)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	want := LoadResult{RPS: 7202.20, LatencyMS: 0.5801, Requests: 8020, Errors: 10}
	if !closeTo(r.RPS, want.RPS) || !closeTo(r.LatencyMS, want.LatencyMS) ||
		r.Requests != want.Requests || r.Errors != want.Errors {
		t.Fatalf("got %+v, want %+v", r, want)
	}
}

func TestParseH2load(t *testing.T) {
	r, err := parseH2load(h2loadOut)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	want := LoadResult{RPS: 4217, LatencyMS: 27.2, Requests: 4210, Errors: 7}
	if !closeTo(r.RPS, want.RPS) || !closeTo(r.LatencyMS, want.LatencyMS) ||
		r.Requests != want.Requests || r.Errors != want.Errors {
		t.Fatalf("got %+v, want %+v", r, want)
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		name  string
		parse func(string) (LoadResult, error)
		out   string
	}{
		{"wrk empty", parseWrk, ""},
		{"wrk no p99", parseWrk, strings.Replace(wrkOut, "99%", "98%", 1)},
		{"wrk bad unit", parseWrk, strings.Replace(wrkOut, "580.10us", "580.10ns", 1)},
		{"h2load empty", parseH2load, ""},
		{"h2load no h2", parseH2load, strings.Replace(h2loadOut, "protocol: h2", "protocol: http/1.1", 1)},
		{"h2load bad count", parseH2load, strings.Replace(h2loadOut, "4215 succeeded", "x succeeded", 1)},
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
	}{{"512us", 0.512}, {"1.25ms", 1.25}, {"2.00s", 2000}, {"1.50m", 90000}}
	for _, tc := range tests {
		got, err := parseDurationMS(tc.in)
		if err != nil || !closeTo(got, tc.want) {
			t.Errorf("%s: got %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func closeTo(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }
