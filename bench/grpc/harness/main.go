// Command harness takes the samples of bench/grpc/run.sh, which starts the
// gRPC backend and the targets and passes their PIDs and addresses.
//
// Scenarios: rest-get and rest-post (REST/JSON transcoded to gRPC, wrk over
// HTTP/1.1) and grpc-unary (native gRPC, h2load over h2c). A check pass makes
// one verified call per job (a Go client; grpc-status OK for gRPC) and a
// short error-free load run, then ROUNDS rounds sample each scenario's
// targets in an order rotated every round, retaking a sample whose cores saw
// more than -noise-max foreign CPU. It writes a Markdown results file (the
// summary, the noise table, every raw sample, and the REST answers of each
// target) and prints the summary. See bench/README.md.
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

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, " ") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

type config struct {
	opt       Options
	targets   []Target
	scenarios []Scenario
	refs      map[string]string
	out, meta string
	work      string
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
	fs.Var(&targets, "target", "name,pid=N,rest=host:port,grpc=host:port (repeat; order starts the rotation)")
	fs.Var(&notes, "note", "line copied into the results file (repeat)")
	scens := fs.String("scenarios", "rest-get,rest-post,grpc-unary", "scenarios, comma separated")
	restRef := fs.String("rest-ref", "grpc-gateway", "reference target of the REST scenarios")
	grpcRef := fs.String("grpc-ref", "haproxy", "reference target of the gRPC scenario")
	fs.IntVar(&c.opt.Rounds, "rounds", 5, "rounds")
	fs.DurationVar(&c.opt.Duration, "duration", 10*time.Second, "measured time per sample")
	fs.DurationVar(&c.opt.Warmup, "warmup", 2*time.Second, "unmeasured load before each sample")
	fs.DurationVar(&c.opt.Check, "check", time.Second, "load time per job in the check pass")
	fs.Float64Var(&c.opt.NoiseMax, "noise-max", 0.2, "foreign share of a core that makes a sample be retaken")
	fs.IntVar(&c.opt.MaxRetry, "max-retry", 2, "retakes of a noisy sample")
	fs.Float64Var(&c.opt.ErrMax, "err-max", 0.001, "error share above which a sample is not used")
	fs.IntVar(&c.opt.ProxyCore, "proxy-cpu", 1, "core of the targets")
	fs.IntVar(&c.opt.LoadCore, "load-cpu", 0, "core of the load generator and the backend")
	fs.IntVar(&c.opt.Backend, "backend-pid", 0, "PID of the backend")
	fs.StringVar(&c.work, "work", "", "directory for the request files")
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
	c.refs = map[string]string{}
	for _, s := range scenarios {
		if strings.Contains(","+*scens+",", ","+s.Name+",") {
			c.scenarios = append(c.scenarios, s)
		}
		c.refs[s.Name] = *restRef
		if s.GRPC {
			c.refs[s.Name] = *grpcRef
		}
	}
	switch {
	case len(c.targets) == 0:
		return c, fmt.Errorf("no -target")
	case len(c.scenarios) == 0:
		return c, fmt.Errorf("no known scenario in %q", *scens)
	case c.opt.Rounds < 1 || c.opt.Duration < time.Second:
		return c, fmt.Errorf("need -rounds >= 1 and -duration >= 1s")
	case c.out == "" || c.work == "":
		return c, fmt.Errorf("need -out and -work")
	}
	return c, nil
}

func run(ctx context.Context, c config) error {
	p, err := writePayloads(c.work)
	if err != nil {
		return err
	}
	r := NewRunner(c.opt, c.targets, p, os.Stderr)
	jobs, dropped := r.CheckPass(ctx, c.scenarios)
	if len(jobs) == 0 {
		return fmt.Errorf("every job failed its check")
	}
	samples := r.Rounds(ctx, jobs)
	rows := Summarize(samples, jobs, c.refs)
	f, err := os.Create(c.out)
	if err != nil {
		return fmt.Errorf("create results: %w", err)
	}
	werr := c.write(f, ctx.Err() != nil, append(c.notes, dropped...), rows, samples, jobs, r.Bodies)
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

// write puts the results file together.
func (c config) write(w io.Writer, partial bool, notes []string, rows []Row, samples []Sample, jobs []Job,
	bodies map[string]map[string][]byte) error {
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
	fmt.Fprintf(w, "\nrounds=%d duration=%s warmup=%s check=%s noise_max=%.2f max_retry=%d refs=%v proxy_cpu=%d load_cpu=%d\n",
		o.Rounds, o.Duration, o.Warmup, o.Check, o.NoiseMax, o.MaxRetry, c.refs, o.ProxyCore, o.LoadCore)
	if partial {
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
	fmt.Fprintln(w, "\n## REST answers (from the check pass)")
	WriteBodies(w, bodies, c.refs)
	fmt.Fprintln(w, "\n## Noise")
	fmt.Fprintln(w)
	WriteNoise(w, samples, jobs)
	fmt.Fprintln(w, "\n## Raw samples")
	fmt.Fprintln(w)
	WriteRaw(w, samples)
	return nil
}
