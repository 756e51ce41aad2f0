// Command harness takes the samples of bench/grpc/run.sh, which starts the
// gRPC backend and the targets and passes their PIDs and addresses.
//
// Scenarios: rest-get and rest-post (REST/JSON transcoded to gRPC, wrk over
// HTTP/1.1), grpc-unary (native gRPC, h2load over h2c) and grpc-unary-ghz
// (the same call with ghz, for its p99 latency). A check pass makes
// one verified call per job (a Go client; grpc-status OK for gRPC) and a
// short error-free load run, then ROUNDS rounds sample each scenario's
// targets in an order rotated every round, retaking a sample whose cores saw
// more than -noise-max foreign CPU. It writes a Markdown results file (the
// summary, the noise table, every raw sample, and the REST answers of each
// target) and prints the summary. See bench/README.md.
package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/bouncer-proxy/bouncer/bench/internal/harness"
)

func main() { harness.Main(parseFlags) }

// parseFlags reads the command line into the run's plan.
func parseFlags(args []string) (harness.Plan, error) {
	var p harness.Plan
	var work string
	fs := flag.NewFlagSet("harness", flag.ContinueOnError)
	p.Register(fs, "name,pid=N,rest=host:port,grpc=host:port (repeat; order starts the rotation)")
	scens := fs.String("scenarios", "rest-get,rest-post,grpc-unary,grpc-unary-ghz", "scenarios, comma separated")
	restRef := fs.String("rest-ref", "grpc-gateway", "reference target of the REST scenarios")
	grpcRef := fs.String("grpc-ref", "haproxy", "reference target of the gRPC scenarios")
	fs.StringVar(&work, "work", "", "directory for the request files")
	if err := fs.Parse(args); err != nil {
		return p, err
	}
	var err error
	if p.Targets, err = p.ParseTargets("rest", "grpc"); err != nil {
		return p, err
	}
	payloads := payloadsIn(work)
	all := scenarios(payloads)
	// Unknown names are left out; run.sh lists what it was given.
	if p.Scenarios, _ = harness.PickScenarios(all, *scens); len(p.Scenarios) == 0 {
		return p, fmt.Errorf("no known scenario in %q", *scens)
	}
	if p.Out == "" || work == "" {
		return p, fmt.Errorf("need -out and -work")
	}
	p.Refs = map[string]string{}
	for _, s := range all {
		p.Refs[s.Name] = *restRef
		if s.Listener == "grpc" {
			p.Refs[s.Name] = *grpcRef
		}
	}
	c := checker{bodies: map[string]map[string][]byte{}}
	p.Checker, p.Prepare = c, payloads.write
	p.RefKnob = fmt.Sprintf("refs=%v", p.Refs)
	p.LatencyMS, p.Opt.SuccessOnly, p.Opt.Widths = true, true, [2]int{10, 13}
	p.Extra = func(w io.Writer) {
		fmt.Fprintln(w, "\n## REST answers (from the check pass)")
		writeBodies(w, p.Scenarios, c.bodies, p.Refs)
	}
	return p, nil
}
