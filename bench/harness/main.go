// Command harness takes the benchmark samples for bench/run.sh, which starts
// the targets and the backend and passes their PIDs and addresses.
//
// It runs a check pass (one Go request and a short load run per scenario and
// target; failing jobs are dropped), then ROUNDS rounds in which each
// scenario's targets are sampled in turn, in an order rotated every round.
// A sample whose cores saw more than -noise-max foreign CPU is retaken. It
// writes a Markdown file with the summary, the noise table and every raw
// sample, and prints the summary. See bench/README.md for the method.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// listFlag collects a repeated flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, " ") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

type config struct {
	opt       Options
	targets   []Target
	scenarios []Scenario
	ref       string
	out       string
	meta      string
	notes     []string
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "harness: %v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintf(os.Stderr, "harness: %v\n", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (config, error) {
	var c config
	var targets, notes listFlag
	fs := flag.NewFlagSet("harness", flag.ContinueOnError)
	fs.Var(&targets, "target", "name,pid=N,h1=host:port,tls=host:port (repeat; order is the rotation's start)")
	fs.Var(&notes, "note", "line copied into the results file (repeat)")
	scens := fs.String("scenarios", "http1-small,http1-4k,h2-tls", "scenarios to run, comma separated")
	fs.IntVar(&c.opt.Rounds, "rounds", 5, "rounds")
	fs.DurationVar(&c.opt.Duration, "duration", 10*time.Second, "measured time per sample")
	fs.DurationVar(&c.opt.Warmup, "warmup", 2*time.Second, "unmeasured load before each job's sample")
	fs.DurationVar(&c.opt.Check, "check", time.Second, "load time per job in the check pass")
	fs.Float64Var(&c.opt.NoiseMax, "noise-max", 0.2, "foreign share of a core that makes a sample be retaken")
	fs.IntVar(&c.opt.MaxRetry, "max-retry", 2, "retakes of a noisy sample")
	fs.Float64Var(&c.opt.ErrMax, "err-max", 0.001, "error share of requests above which a sample is not used")
	fs.IntVar(&c.opt.ProxyCore, "proxy-cpu", 1, "core the targets are pinned to")
	fs.IntVar(&c.opt.LoadCore, "load-cpu", 0, "core of the load generator and the backend")
	fs.IntVar(&c.opt.Backend, "backend-pid", 0, "PID of the backend")
	fs.StringVar(&c.opt.CAFile, "ca", "", "certificate the TLS listeners serve")
	fs.StringVar(&c.ref, "ref", "nginx", "reference target of the ratios")
	fs.StringVar(&c.out, "out", "", "results file to write")
	fs.StringVar(&c.meta, "meta", "", "file whose text heads the results file")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	c.notes = notes
	for _, t := range targets {
		tg, err := parseTarget(t)
		if err != nil {
			return c, err
		}
		c.targets = append(c.targets, tg)
	}
	var err error
	if c.scenarios, err = pickScenarios(*scens); err != nil {
		return c, err
	}
	switch {
	case len(c.targets) == 0:
		return c, fmt.Errorf("no -target")
	case c.opt.Rounds < 1 || c.opt.Duration < time.Second:
		return c, fmt.Errorf("need -rounds >= 1 and -duration >= 1s")
	case c.out == "":
		return c, fmt.Errorf("no -out")
	}
	return c, nil
}

// pickScenarios returns the named scenarios in the harness's order.
func pickScenarios(list string) ([]Scenario, error) {
	want := make(map[string]bool)
	for _, n := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' }) {
		want[n] = true
	}
	var out []Scenario
	for _, s := range scenarios {
		if want[s.Name] {
			out = append(out, s)
			delete(want, s.Name)
		}
	}
	for n := range want {
		return nil, fmt.Errorf("unknown scenario %q", n)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no scenario")
	}
	return out, nil
}

func run(ctx context.Context, c config) error {
	r := NewRunner(c.opt, c.targets, os.Stderr)
	jobs, dropped := r.CheckPass(ctx, c.scenarios)
	if len(jobs) == 0 {
		return fmt.Errorf("every job failed its check")
	}
	samples := r.Rounds(ctx, jobs)
	rows := Summarize(samples, jobs, c.ref)
	f, err := os.Create(c.out)
	if err != nil {
		return fmt.Errorf("create results: %w", err)
	}
	werr := c.write(f, ctx.Err() != nil, append(c.notes, dropped...), rows, samples, jobs)
	if err := f.Close(); err != nil && werr == nil {
		werr = fmt.Errorf("close results: %w", err)
	}
	if werr != nil {
		return werr
	}
	fmt.Println()
	WriteSummary(os.Stdout, rows)
	fmt.Printf("\nresults: %s\n", c.out)
	return ctx.Err()
}

// write puts the whole results file together.
func (c config) write(w io.Writer, interrupted bool, notes []string, rows []Row, samples []Sample, jobs []Job) error {
	if c.meta != "" {
		b, err := os.ReadFile(c.meta)
		if err != nil {
			return fmt.Errorf("read meta: %w", err)
		}
		if _, err := w.Write(b); err != nil {
			return fmt.Errorf("write results: %w", err)
		}
	}
	o := c.opt
	fmt.Fprintf(w, "\nrounds=%d duration=%s warmup=%s check=%s noise_max=%.2f max_retry=%d ref=%s proxy_cpu=%d load_cpu=%d\n",
		o.Rounds, o.Duration, o.Warmup, o.Check, o.NoiseMax, o.MaxRetry, c.ref, o.ProxyCore, o.LoadCore)
	if interrupted {
		fmt.Fprintln(w, "\n**Interrupted: partial results.**")
	}
	if len(notes) > 0 {
		fmt.Fprintln(w, "\n## Skipped or dropped")
		for _, n := range notes {
			fmt.Fprintf(w, "- %s\n", n)
		}
	}
	fmt.Fprintln(w, "\n## Summary (medians over rounds, min–max in parentheses)")
	fmt.Fprintln(w)
	WriteSummary(w, rows)
	fmt.Fprintln(w, "\n## Noise")
	fmt.Fprintln(w)
	WriteNoise(w, samples, jobs)
	fmt.Fprintln(w, "\n## Raw samples")
	fmt.Fprintln(w)
	WriteRaw(w, samples)
	return nil
}
