package harness

import (
	"strings"
	"testing"
	"time"
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
	sc := Scenario{Name: "http1-small", Latency: "p99_ms"}
	jobs := []Job{
		{Scenario: sc, Target: Target{Name: "direct"}},
		{Scenario: sc, Target: Target{Name: "nginx", PID: 1}},
		{Scenario: sc, Target: Target{Name: "other", PID: 2}},
	}
	mk := func(round int, target, status string, rps, lat, cpu float64) Sample {
		return Sample{Round: round, Scenario: sc, Target: target, Status: status,
			Result: LoadResult{RPS: rps, LatencyMS: lat}, Usage: Usage{Proxy: cpu}}
	}
	samples := []Sample{
		mk(1, "direct", statusOK, 200, 1, 0),
		mk(1, "nginx", statusOK, 100, 2, 0.5),
		mk(1, "other", statusNoisy, 10, 9, 1),
		mk(1, "other", statusOK, 50, 4, 1),
		mk(2, "nginx", statusOK, 100, 2, 0.5),
		mk(2, "other", statusError, 0, 0, 0),
	}
	rows := Summarize(samples, jobs, map[string]string{sc.Name: "nginx"})
	if len(rows) != 3 || !rows[1].Ref || rows[0].Ref {
		t.Fatalf("rows %+v", rows)
	}
	other := rows[2]
	checks := []struct {
		name string
		got  Series
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
	WriteSummary(&b, rows, false)
	if !strings.Contains(b.String(), "| http1-small | **nginx** (ref) | 100 |") {
		t.Errorf("summary:\n%s", b.String())
	}
}

func TestSeriesMedian(t *testing.T) {
	if got := (Series{4, 1, 3, 2}).String(); got != "2.50 (1.00–4.00)" {
		t.Fatalf("got %s", got)
	}
}

func TestParseTarget(t *testing.T) {
	tg, err := ParseTarget("nginx,pid=42,h1=127.0.0.1:1,tls=127.0.0.1:2", "h1", "tls")
	if err != nil || tg.Name != "nginx" || tg.PID != 42 || len(tg.Addrs) != 2 ||
		tg.Addrs["h1"] != "127.0.0.1:1" || tg.Addrs["tls"] != "127.0.0.1:2" {
		t.Fatalf("got %+v, %v", tg, err)
	}
	for _, bad := range []string{",pid=1", "x,pid=a", "x,port=1", "x,h1", "x,grpc=127.0.0.1:1"} {
		if _, err := ParseTarget(bad, "h1", "tls"); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestPickScenarios(t *testing.T) {
	all := []Scenario{{Name: "a"}, {Name: "b"}, {Name: "c"}}
	got, unknown := PickScenarios(all, "c, a,,x")
	if len(got) != 2 || got[0].Name != "a" || got[1].Name != "c" || len(unknown) != 1 || unknown[0] != "x" {
		t.Fatalf("got %+v, unknown %v", got, unknown)
	}
}

func TestCommand(t *testing.T) {
	tests := []struct {
		s    Scenario
		want string
	}{
		{Scenario{Scheme: "http", Path: "/64"}, "taskset -c 0 wrk -t1 -c50 -d3s --latency http://h:1/64"},
		{Scenario{H2load: true, Scheme: "https", Path: "/64"}, "taskset -c 0 h2load -t1 -c4 -m32 -D 3 https://h:1/64"},
		{Scenario{Ghz: true, Scheme: "http", Path: "/pkg.Svc/Get", Args: []string{"-B", "m.bin"}},
			"taskset -c 0 ghz --insecure --cpus 1 --connections 4 --concurrency 128 -z 3s --duration-stop ignore " +
				"--call pkg.Svc/Get -B m.bin h:1"},
		{Scenario{Ghz: true, Scheme: "https", Path: "/pkg.Svc/Get"},
			"taskset -c 0 ghz --skipTLS --cpus 1 --connections 4 --concurrency 128 -z 3s --duration-stop ignore " +
				"--call pkg.Svc/Get h:1"},
		{Scenario{Scheme: "http", Path: "/e", Args: []string{"-s", "p.lua"}},
			"taskset -c 0 wrk -t1 -c50 -d3s --latency -s p.lua http://h:1/e"},
		{Scenario{Scheme: "http", Path: "/p/64", Headers: []string{"Authorization: Bearer t"}},
			"taskset -c 0 wrk -t1 -c50 -d3s --latency -H Authorization: Bearer t http://h:1/p/64"},
		{Scenario{H2load: true, Scheme: "https", Path: "/64", Headers: []string{"A: 1", "B: 2"}},
			"taskset -c 0 h2load -t1 -c4 -m32 -D 3 -H A: 1 -H B: 2 https://h:1/64"},
	}
	for _, tc := range tests {
		if got := strings.Join(tc.s.command("h:1", 3*time.Second, 0), " "); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}

// TestSummarizeRatiosPerRound: ratios are taken within each round, then
// their median; a noisy sample is left out.
func TestSummarizeRatiosPerRound(t *testing.T) {
	scen := Scenario{Name: "grpc-unary", Latency: "mean_ms"}
	mk := func(round int, target string, rps, lat, cpu float64) Sample {
		return Sample{Round: round, Scenario: scen, Target: target, Status: statusOK,
			Result: LoadResult{RPS: rps, LatencyMS: lat}, Usage: Usage{Proxy: cpu}}
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
	var sb strings.Builder
	WriteSummary(&sb, rows, true)
	if !strings.Contains(sb.String(), "| grpc-unary | bouncer | 75 | 3.00 | 0.75 (0.50–1.00) |") {
		t.Errorf("summary:\n%s", sb.String())
	}
}
