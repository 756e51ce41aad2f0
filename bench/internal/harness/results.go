package harness

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

// Flags are the flags every harness command has.
type Flags struct {
	Opt     Options
	Targets ListFlag // "name,pid=N,key=host:port,..."
	Notes   ListFlag // lines copied into the results file
	Out     string   // results file
	Meta    string   // file whose text heads the results file
}

// Register defines the shared flags on fs; targetHelp is the usage of
// -target, the part that differs between commands.
func (f *Flags) Register(fs *flag.FlagSet, targetHelp string) {
	fs.Var(&f.Targets, "target", targetHelp)
	fs.Var(&f.Notes, "note", "line copied into the results file (repeat)")
	fs.IntVar(&f.Opt.Rounds, "rounds", 5, "rounds")
	fs.DurationVar(&f.Opt.Duration, "duration", 10*time.Second, "measured time per sample")
	fs.DurationVar(&f.Opt.Warmup, "warmup", 2*time.Second, "unmeasured load before each job's sample")
	fs.DurationVar(&f.Opt.Check, "check", time.Second, "load time per job in the check pass")
	fs.Float64Var(&f.Opt.NoiseMax, "noise-max", 0.2, "foreign share of a core that makes a sample be retaken")
	fs.IntVar(&f.Opt.MaxRetry, "max-retry", 2, "retakes of a noisy sample")
	fs.Float64Var(&f.Opt.ErrMax, "err-max", 0.001, "error share of requests above which a sample is not used")
	fs.IntVar(&f.Opt.ProxyCore, "proxy-cpu", 1, "core the targets are pinned to")
	fs.IntVar(&f.Opt.LoadCore, "load-cpu", 0, "core of the load generator and the backend")
	fs.IntVar(&f.Opt.Backend, "backend-pid", 0, "PID of the backend")
	fs.Func("aux-pid", "PID of another process of ours on the load core, counted with the backend (repeat)", func(v string) error {
		pid, err := strconv.Atoi(v)
		if err != nil || pid <= 0 {
			return fmt.Errorf("aux-pid %q: not a PID", v)
		}
		f.Opt.Aux = append(f.Opt.Aux, pid)
		return nil
	})
	fs.StringVar(&f.Out, "out", "", "results file to write")
	fs.StringVar(&f.Meta, "meta", "", "file whose text heads the results file")
}

// ParseTargets parses the -target values, whose listeners are named by
// keys, and checks that there is one and that the rounds make sense.
func (f *Flags) ParseTargets(keys ...string) ([]Target, error) {
	var targets []Target
	for _, s := range f.Targets {
		t, err := ParseTarget(s, keys...)
		if err != nil {
			return nil, err
		}
		targets = append(targets, t)
	}
	switch {
	case len(targets) == 0:
		return nil, fmt.Errorf("no -target")
	case f.Opt.Rounds < 1 || f.Opt.Duration < time.Second:
		return nil, fmt.Errorf("need -rounds >= 1 and -duration >= 1s")
	}
	return targets, nil
}

// Plan is one run of a harness command.
type Plan struct {
	Flags
	Targets   []Target
	Scenarios []Scenario
	Checker   Checker
	Refs      map[string]string // reference target of each scenario
	RefKnob   string            // the references in the knobs line, e.g. "ref=nginx"
	LatencyMS bool              // the summary has a column of absolute latency
	// Prepare, if set, runs first, e.g. to write the files the load
	// generators send.
	Prepare func() error
	// Extra, if set, writes a section of the results file after the summary.
	Extra func(w io.Writer)
}

// Main runs a harness command: parse reads its flags (a failure exits 2),
// then the plan runs until done or SIGINT/SIGTERM (a failure exits 1).
func Main(parse func(args []string) (Plan, error)) {
	p, err := parse(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "harness: %v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := Run(ctx, p); err != nil {
		fmt.Fprintf(os.Stderr, "harness: %v\n", err)
		os.Exit(1)
	}
}

// Run takes the check pass and the rounds of p, writes the results file
// and prints the summary. Interrupted, it writes what it has and returns
// ctx's error.
func Run(ctx context.Context, p Plan) error {
	if p.Prepare != nil {
		if err := p.Prepare(); err != nil {
			return err
		}
	}
	r := NewRunner(p.Opt, p.Targets, p.Checker, os.Stderr)
	jobs, dropped := r.CheckPass(ctx, p.Scenarios)
	if len(jobs) == 0 {
		return fmt.Errorf("every job failed its check")
	}
	samples := r.Rounds(ctx, jobs)
	rows := Summarize(samples, jobs, p.Refs)
	f, err := os.Create(p.Out)
	if err != nil {
		return fmt.Errorf("create results: %w", err)
	}
	werr := p.write(f, ctx.Err() != nil, append(p.Notes, dropped...), rows, samples, jobs)
	if err := f.Close(); err != nil && werr == nil {
		werr = fmt.Errorf("close results: %w", err)
	}
	if werr != nil {
		return werr
	}
	fmt.Println()
	WriteSummary(os.Stdout, rows, p.LatencyMS)
	fmt.Printf("\nresults: %s\n", p.Out)
	return ctx.Err()
}

// write puts the whole results file together.
func (p Plan) write(w io.Writer, interrupted bool, notes []string, rows []Row, samples []Sample, jobs []Job) error {
	if p.Meta != "" {
		b, err := os.ReadFile(p.Meta)
		if err != nil {
			return fmt.Errorf("read meta: %w", err)
		}
		if _, err := w.Write(b); err != nil {
			return fmt.Errorf("write results: %w", err)
		}
	}
	o := p.Opt
	fmt.Fprintf(w, "\nrounds=%d duration=%s warmup=%s check=%s noise_max=%.2f max_retry=%d %s proxy_cpu=%d load_cpu=%d\n",
		o.Rounds, o.Duration, o.Warmup, o.Check, o.NoiseMax, o.MaxRetry, p.RefKnob, o.ProxyCore, o.LoadCore)
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
	WriteSummary(w, rows, p.LatencyMS)
	if p.Extra != nil {
		p.Extra(w)
	}
	fmt.Fprintln(w, "\n## Noise")
	fmt.Fprintln(w)
	WriteNoise(w, samples, jobs)
	fmt.Fprintln(w, "\n## Raw samples")
	fmt.Fprintln(w)
	WriteRaw(w, samples)
	return nil
}
