package harness

import (
	"strings"
	"testing"
	"time"

	"github.com/bouncer-proxy/bouncer/bench/loadgen/loadstat"
)

func TestParseGoLoad(t *testing.T) {
	const tls = "tlsload: first error: handshake: EOF\n" +
		"hps=4120.3 requests=41203 errors=2 resumed=0 mean_ms=3.870 p50_ms=3.650 p90_ms=5.010 p99_ms=8.220 max_ms=21.400\n"
	tests := []struct {
		name, out, key string
		want           LoadResult
		wantErr        bool
	}{
		{"tlsload p99", tls, "p99_ms", LoadResult{RPS: 4120.3, LatencyMS: 8.22, Requests: 41203, Errors: 2}, false},
		{"tlsload mean", tls, "mean_ms", LoadResult{RPS: 4120.3, LatencyMS: 3.87, Requests: 41203, Errors: 2}, false},
		{"h3load", "rps=15000.0 requests=150000 errors=0 mean_ms=4.000 p50_ms=3.9 p90_ms=5 p99_ms=9.5 max_ms=30\n",
			"p99_ms", LoadResult{RPS: 15000, LatencyMS: 9.5, Requests: 150000}, false},
		{"no line", "h3load: connection 0: get: timeout\n", "p99_ms", LoadResult{}, true},
		{"no latency", "rps=1 requests=1 errors=0\n", "p99_ms", LoadResult{}, true},
		{"no errors", "rps=1 requests=1 p99_ms=1\n", "p99_ms", LoadResult{}, true},
		{"bad number", "rps=x requests=1 errors=0 p99_ms=1\n", "p99_ms", LoadResult{}, true},
		{"bad resumed", "hps=1 requests=1 errors=0 resumed=? p99_ms=1\n", "p99_ms", LoadResult{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseGoLoad(tc.out, tc.key)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v, want error %v", err, tc.wantErr)
			}
			if !tc.wantErr && got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestParseGoLoadLine reads what loadstat prints.
func TestParseGoLoadLine(t *testing.T) {
	r := &loadstat.Recorder{}
	for i := 1; i <= 100; i++ {
		r.OK(time.Duration(i) * time.Millisecond)
	}
	s := loadstat.Merge("hps", 2*time.Second, []*loadstat.Recorder{r})
	s.Extra = []loadstat.Counter{{Name: "resumed"}}
	got, err := ParseGoLoad("warning\n"+s.Line()+"\n", "p99_ms")
	if err != nil {
		t.Fatal(err)
	}
	if got != (LoadResult{RPS: 50, LatencyMS: 99, Requests: 100}) {
		t.Errorf("got %+v from %q", got, s.Line())
	}
}

func TestGenCommand(t *testing.T) {
	s := Scenario{Name: "h3", Gen: "/bin/h3load", Path: "/64", Size: 64, Args: []string{"-h2"}}
	got := strings.Join(s.command("127.0.0.1:1", 5*time.Second, 0), " ")
	want := "taskset -c 0 env GOMAXPROCS=1 /bin/h3load -d 5s -path /64 -size 64 -h2 127.0.0.1:1"
	if got != want {
		t.Errorf("command\n%s\nwant\n%s", got, want)
	}
	// Without a path (raw TCP), the scenario's flags are all in Args.
	s = Scenario{Name: "tcp-connrate", Gen: "/bin/tcpload", Args: []string{"-mode", "connrate"}}
	got = strings.Join(s.command("127.0.0.1:1", 5*time.Second, 0), " ")
	want = "taskset -c 0 env GOMAXPROCS=1 /bin/tcpload -d 5s -mode connrate 127.0.0.1:1"
	if got != want {
		t.Errorf("command\n%s\nwant\n%s", got, want)
	}
}

func TestFormatRate(t *testing.T) {
	for v, want := range map[float64]string{2.3456: "2.35", 9.999: "10.00", 10: "10", 22172.4: "22172"} {
		if got := formatRate(v); got != want {
			t.Errorf("formatRate(%v) = %s, want %s", v, got, want)
		}
	}
}

func TestPickScenariosVariants(t *testing.T) {
	all := []Scenario{{Name: "a"}, {Name: "h3", Listener: "h3"}, {Name: "h3", Listener: "h3-h2"}}
	got, unknown := PickScenarios(all, "h3 nope")
	if len(got) != 2 || got[1].Listener != "h3-h2" || len(unknown) != 1 || unknown[0] != "nope" {
		t.Fatalf("picked %+v, unknown %v", got, unknown)
	}
}

func TestRunnerCountsAProcessOnce(t *testing.T) {
	r := NewRunner(Options{}, []Target{{Name: "caddy", PID: 7}, {Name: "caddy/h2", PID: 7}, {Name: "direct"}}, nil, nil)
	if len(r.pids) != 1 {
		t.Errorf("pids %v", r.pids)
	}
}
