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
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/bouncer-proxy/bouncer/bench/internal/harness"
)

func main() { harness.Main(parseFlags) }

// parseFlags reads the command line into the run's plan.
func parseFlags(args []string) (harness.Plan, error) {
	var p harness.Plan
	var caFile string
	fs := flag.NewFlagSet("harness", flag.ContinueOnError)
	p.Register(fs, "name,pid=N,h1=host:port,tls=host:port[,h3=host:port][,tcpsrc=host:port][,tcpecho=host:port]"+
		"[,pol=host:port[,polredis=host:port]][,cache=host:port] (repeat; order is the rotation's start)")
	scens := fs.String("scenarios", "http1-small,http1-4k,h2-tls,tls-handshakes,h3,tcp-throughput,tcp-connrate", "scenarios to run, comma separated")
	fs.StringVar(&caFile, "ca", "", "certificate the TLS listeners serve")
	ref := fs.String("ref", "nginx", "reference target of the ratios")
	refH3 := fs.String("ref-h3", "caddy", "reference target of the h3 scenario")
	refPol := fs.String("ref-policies", "bouncer", "reference target of the http1-policies scenario (its plain route)")
	tokenFile := fs.String("jwt-token", "", "file of the bearer token the policy routes of http1-policies get")
	genDir := fs.String("loadgen-dir", "", "directory of tlsload, h3load and tcpload (default: this command's)")
	if err := fs.Parse(args); err != nil {
		return p, err
	}
	var err error
	if p.Targets, err = p.ParseTargets(keyH1, keyTLS, keyH3, keySource, keyEcho, keyPol, keyPolRedis, keyCache); err != nil {
		return p, err
	}
	p.Targets = append(append(p.Targets, derivedH2(p.Targets)...), derivedPolicies(p.Targets)...)
	if p.Scenarios, err = pickScenarios(*scens); err != nil {
		return p, err
	}
	if p.Scenarios, err = withToken(p.Scenarios, *tokenFile); err != nil {
		return p, err
	}
	if p.Scenarios, err = locateGens(p.Scenarios, *genDir); err != nil {
		return p, err
	}
	if p.Out == "" {
		return p, fmt.Errorf("no -out")
	}
	p.Checker = checker{caFile: caFile}
	p.Refs = map[string]string{}
	p.RefKnob = "ref=" + *ref
	knobs := map[string]string{}
	for _, s := range p.Scenarios {
		p.Refs[s.Name] = *ref
		switch s.Name {
		case "h3":
			p.Refs[s.Name], knobs["ref_h3"] = *refH3, *refH3
		case "http1-policies":
			// The table shows the added p99 in milliseconds too.
			p.Refs[s.Name], knobs["ref_policies"], p.LatencyMS = *refPol, *refPol, true
		}
	}
	for _, k := range slices.Sorted(maps.Keys(knobs)) {
		p.RefKnob += " " + k + "=" + knobs[k]
	}
	p.Opt.Widths = [2]int{14, 10}
	return p, nil
}

// pickScenarios returns the named scenarios in the harness's order; an
// unknown name is an error.
func pickScenarios(list string) ([]harness.Scenario, error) {
	out, unknown := harness.PickScenarios(allScenarios, list)
	if len(unknown) > 0 {
		return nil, fmt.Errorf("unknown scenario %q", unknown[0])
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no scenario")
	}
	return out, nil
}

// locateGens gives each scenario of a Go load generator the path of its
// binary in dir, by default the directory of this command (bench/.bin).
func locateGens(scens []harness.Scenario, dir string) ([]harness.Scenario, error) {
	if dir == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("loadgen dir: %w", err)
		}
		dir = filepath.Dir(exe)
	}
	out := slices.Clone(scens)
	for i := range out {
		if out[i].Gen != "" {
			out[i].Gen = filepath.Join(dir, out[i].Gen)
		}
	}
	return out, nil
}
