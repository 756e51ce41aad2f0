package main

import (
	"strings"
	"testing"

	"github.com/bouncer-proxy/bouncer/transcode/sample"
)

func TestParseWrk(t *testing.T) {
	out := `Running 5s test @ http://127.0.0.1:18281/v1/echo
  Latency Distribution
     50%    2.10ms
     99%   11.50ms
  35000 requests in 5.00s, 9.1MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:   7000.25
`
	r, err := parseWrk(out)
	if err != nil {
		t.Fatal(err)
	}
	if r.RPS != 7000.25 || r.LatencyMS != 11.5 || r.Requests != 34996 || r.Errors != 7 {
		t.Fatalf("got %+v", r)
	}
	if _, err := parseWrk("Requests/sec: 1\n"); err == nil {
		t.Fatal("incomplete output accepted")
	}
}

func TestParseH2load(t *testing.T) {
	out := `Application protocol: h2c
finished in 5.00s, 20000.00 req/s, 3.00MB/s
requests: 100000 total, 100000 started, 100000 done, 99990 succeeded, 10 failed, 0 errored, 0 timeout
status codes: 99980 2xx, 0 3xx, 0 4xx, 10 5xx
time for request:      800us     40.00ms      6.25ms      3.00ms    80.00%
`
	r, err := parseH2load(out)
	if err != nil {
		t.Fatal(err)
	}
	if r.RPS != 20000 || r.LatencyMS != 6.25 || r.Requests != 99980 || r.Errors != 20 {
		t.Fatalf("got %+v", r)
	}
	if _, err := parseH2load(strings.Replace(out, "h2c", "http/1.1", 1)); err == nil {
		t.Fatal("HTTP/1.1 run accepted")
	}
}

func TestSummarizeRatiosPerRound(t *testing.T) {
	scen := scenarios[2]
	mk := func(round int, target string, rps, lat, cpu float64) Sample {
		return Sample{Round: round, Scenario: scen, Target: target, Status: statusOK,
			Result: LoadResult{RPS: rps, LatencyMS: lat}, Usage: usage{Proxy: cpu}}
	}
	samples := []Sample{
		mk(1, "direct", 400, 1, 0), mk(1, "haproxy", 200, 2, 0.5), mk(1, "bouncer", 100, 4, 1),
		mk(2, "direct", 100, 1, 0), mk(2, "haproxy", 50, 2, 0.5), mk(2, "bouncer", 50, 2, 1),
		{Round: 3, Scenario: scen, Target: "bouncer", Status: statusNoisy, Result: LoadResult{RPS: 1}},
	}
	jobs := []Job{{scen, Target{Name: "direct"}}, {scen, Target{Name: "haproxy"}}, {scen, Target{Name: "bouncer"}}}
	rows := Summarize(samples, jobs, map[string]string{scen.Name: "haproxy"})
	b := rows[2]
	if !rows[1].Ref || b.Ref {
		t.Fatalf("reference flags: %+v", rows)
	}
	if got := b.Thrpt.String(); got != "0.75 (0.50–1.00)" {
		t.Errorf("thrpt %s", got)
	}
	if got := b.OpsCPU.String(); got != "0.38 (0.25–0.50)" {
		t.Errorf("ops/cpu %s", got)
	}
	if got := b.VsDirect.String(); got != "0.38 (0.25–0.50)" {
		t.Errorf("vs direct %s", got)
	}
	if len(b.RPS) != 2 {
		t.Errorf("noisy sample used: %v", b.RPS)
	}
}

func TestJSONDiff(t *testing.T) {
	got := jsonDiff([]byte(`{"a":"1","b":2,"c":null}`), []byte(`{"a":"1","b":3,"d":true}`))
	want := "b: 2 vs 3; only here: c=<nil>; only in ref: d=true"
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestGetBookFrame(t *testing.T) {
	f, err := getBookFrame()
	if err != nil {
		t.Fatal(err)
	}
	if f[0] != 0 || int(f[4]) != len(f)-5 || !strings.Contains(string(f), bookName) {
		t.Fatalf("frame %x", f)
	}
}

func TestCheckGRPCAgainstSample(t *testing.T) {
	addr, stop, err := sample.Start("")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if err := checkGRPC(t.Context(), addr); err != nil {
		t.Fatal(err)
	}
}

func TestSameEcho(t *testing.T) {
	if err := sameEcho([]byte(echoJSON)); err != nil {
		t.Fatalf("the request itself: %v", err)
	}
	extra := strings.TrimSuffix(echoJSON, "}") + `,"value":null,"fieldMask":null}`
	if err := sameEcho([]byte(extra)); err != nil {
		t.Fatalf("unset members written as null: %v", err)
	}
	changed := strings.Replace(echoJSON, `"9007199254740993"`, `"9007199254740992"`, 1)
	if err := sameEcho([]byte(changed)); err == nil {
		t.Fatal("a changed int64 was accepted")
	}
}
