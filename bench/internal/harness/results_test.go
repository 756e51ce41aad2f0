package harness

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFlags(t *testing.T) {
	var f Flags
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	f.Register(fs, "target")
	if err := fs.Parse([]string{"-target", "a,pid=1,h1=127.0.0.1:1", "-rounds", "2", "-note", "x", "-note", "y"}); err != nil {
		t.Fatal(err)
	}
	ts, err := f.ParseTargets("h1")
	if err != nil || len(ts) != 1 || ts[0].PID != 1 || f.Opt.Duration != 10*time.Second || len(f.Notes) != 2 {
		t.Fatalf("got %+v, %v, %+v", ts, err, f)
	}
	if err := fs.Parse([]string{"-aux-pid", "7", "-aux-pid", "9"}); err != nil || len(f.Opt.Aux) != 2 || f.Opt.Aux[1] != 9 {
		t.Fatalf("aux %v, %v", f.Opt.Aux, err)
	}
	for _, bad := range []string{"x", "0", "-3"} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		(&Flags{}).Register(fs, "target")
		if err := fs.Parse([]string{"-aux-pid", bad}); err == nil {
			t.Errorf("aux-pid %q accepted", bad)
		}
	}
	f.Opt.Rounds = 0
	if _, err := f.ParseTargets("h1"); err == nil {
		t.Fatal("zero rounds accepted")
	}
	if _, err := (&Flags{}).ParseTargets("h1"); err == nil {
		t.Fatal("no target accepted")
	}
}

func TestWriteResults(t *testing.T) {
	meta := filepath.Join(t.TempDir(), "meta.md")
	if err := os.WriteFile(meta, []byte("# Head\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := Plan{RefKnob: "ref=nginx", Extra: func(w io.Writer) { fmt.Fprintln(w, "\n## Extra") }}
	p.Meta, p.Opt = meta, Options{Rounds: 1, Duration: time.Second, NoiseMax: 0.2, MaxRetry: 2, ProxyCore: 1}
	sc := Scenario{Name: "s", Latency: "p99_ms"}
	jobs := []Job{{Scenario: sc, Target: Target{Name: "nginx"}}}
	samples := []Sample{{Round: 1, Scenario: sc, Target: "nginx", Status: statusError, Err: "a|b"}}
	var b strings.Builder
	if err := p.write(&b, true, []string{"dropped one"}, Summarize(samples, jobs, nil), samples, jobs); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	wantInOrder := []string{"# Head\n", "\nrounds=1 duration=1s warmup=0s check=0s noise_max=0.20 max_retry=2 ref=nginx proxy_cpu=1 load_cpu=0\n",
		"**Interrupted: partial results.**", "- dropped one", "## Summary", "| s | **nginx** (ref) | – |", "## Extra",
		"## Noise", "| s | nginx | 1 | 0 | 0 | 1 |", "## Raw samples", "| a/b |"}
	at := 0
	for _, w := range wantInOrder {
		i := strings.Index(out[at:], w)
		if i < 0 {
			t.Fatalf("%q missing or out of order in:\n%s", w, out)
		}
		at += i + len(w)
	}
}
