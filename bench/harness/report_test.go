package main

import (
	"strings"
	"testing"
)

func TestRotate(t *testing.T) {
	jobs := []Job{{Target: Target{Name: "a"}}, {Target: Target{Name: "b"}}, {Target: Target{Name: "c"}}}
	for k, want := range []string{"abc", "bca", "cab", "abc"} {
		var got string
		for _, j := range rotate(jobs, k) {
			got += j.Target.Name
		}
		if got != want {
			t.Errorf("rotate %d: %s, want %s", k, got, want)
		}
	}
}

func TestSummarize(t *testing.T) {
	sc := scenarios[0]
	jobs := []Job{
		{Scenario: sc, Target: Target{Name: "direct"}},
		{Scenario: sc, Target: Target{Name: "nginx", PID: 1}},
		{Scenario: sc, Target: Target{Name: "other", PID: 2}},
	}
	mk := func(round int, target, status string, rps, lat, cpu float64) Sample {
		return Sample{Round: round, Scenario: sc, Target: target, Status: status,
			Result: LoadResult{RPS: rps, LatencyMS: lat}, Usage: usage{Proxy: cpu}}
	}
	samples := []Sample{
		mk(1, "direct", statusOK, 200, 1, 0),
		mk(1, "nginx", statusOK, 100, 2, 0.5),
		mk(1, "other", statusNoisy, 10, 9, 1),
		mk(1, "other", statusOK, 50, 4, 1),
		mk(2, "nginx", statusOK, 100, 2, 0.5),
		mk(2, "other", statusError, 0, 0, 0),
	}
	rows := Summarize(samples, jobs, "nginx")
	if len(rows) != 3 || !rows[1].Ref || rows[0].Ref {
		t.Fatalf("rows %+v", rows)
	}
	other := rows[2]
	checks := []struct {
		name string
		got  series
		want string
	}{
		{"thrpt", other.Thrpt, "0.50 (0.50–0.50)"},
		{"latency", other.Latency, "2.00 (2.00–2.00)"},
		{"ops/cpu", other.OpsCPU, "0.25 (0.25–0.25)"},
		{"vs direct", other.VsDirect, "0.25 (0.25–0.25)"},
		{"direct ops/cpu", rows[0].OpsCPU, "–"},
		{"nginx thrpt", rows[1].Thrpt, "1.00 (1.00–1.00)"},
	}
	for _, c := range checks {
		if c.got.String() != c.want {
			t.Errorf("%s: %s, want %s", c.name, c.got, c.want)
		}
	}
	var b strings.Builder
	WriteSummary(&b, rows)
	if !strings.Contains(b.String(), "| http1-small | **nginx** (ref) | 100 |") {
		t.Errorf("summary:\n%s", b.String())
	}
}

func TestSeriesMedian(t *testing.T) {
	if got := (series{4, 1, 3, 2}).String(); got != "2.50 (1.00–4.00)" {
		t.Fatalf("got %s", got)
	}
}

func TestParseTarget(t *testing.T) {
	tg, err := parseTarget("nginx,pid=42,h1=127.0.0.1:1,tls=127.0.0.1:2")
	if err != nil || tg != (Target{Name: "nginx", PID: 42, H1: "127.0.0.1:1", TLS: "127.0.0.1:2"}) {
		t.Fatalf("got %+v, %v", tg, err)
	}
	for _, bad := range []string{",pid=1", "x,pid=a", "x,port=1", "x,h1"} {
		if _, err := parseTarget(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestPickScenarios(t *testing.T) {
	got, err := pickScenarios("h2-tls, http1-small")
	if err != nil || len(got) != 2 || got[0].Name != "http1-small" {
		t.Fatalf("got %+v, %v", got, err)
	}
	if _, err := pickScenarios("nope"); err == nil {
		t.Fatal("unknown scenario accepted")
	}
}
