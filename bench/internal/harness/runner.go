package harness

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"
)

// Options are the knobs of one run.
type Options struct {
	Rounds    int
	Duration  time.Duration // measured part of a sample
	Warmup    time.Duration // unmeasured load before a job's sample
	Check     time.Duration // load run of the check pass
	NoiseMax  float64       // foreign share of a core above which a sample is retaken
	MaxRetry  int           // retakes of a noisy sample
	ErrMax    float64       // error share above which a sample is not used
	ProxyCore int
	LoadCore  int
	Backend   int // backend PID
	// Aux are more processes of ours on the load core (a Redis server the
	// target talks to): their CPU counts with the backend's, not as foreign.
	Aux []int
	// SuccessOnly makes Requests count 2xx answers only and every other
	// status an error (see ParseWrk and ParseH2load).
	SuccessOnly bool
	// Widths are those of the scenario and target names in progress lines.
	Widths [2]int
}

// Status of a sample in the raw table.
const (
	statusOK    = "ok"
	statusNoisy = "N" // too much foreign CPU: retaken, not used
	statusKept  = "n" // still noisy after MaxRetry retakes: used, flagged
	statusError = "E" // errors above ErrMax, or the tool failed: not used
)

// Sample is one measured load run against one target.
type Sample struct {
	Round    int
	Attempt  int
	Scenario Scenario
	Target   string
	Result   LoadResult
	Usage    Usage
	Status   string
	Err      string
}

// used reports whether the sample counts in the summary.
func (s Sample) used() bool { return s.Status == statusOK || s.Status == statusKept }

// Job is one scenario against one target.
type Job struct {
	Scenario Scenario
	Target   Target
}

// Checker is a command's own check of a job before any load: one request
// made with a Go client the way the scenario will, and its answer checked.
type Checker interface {
	Check(ctx context.Context, j Job, addr string) error
}

// Runner takes the samples. It is used by one goroutine.
type Runner struct {
	opt     Options
	targets []Target
	checker Checker
	log     io.Writer
	pids    []int
}

// NewRunner returns a runner over targets that checks jobs with c;
// progress lines go to log.
func NewRunner(opt Options, targets []Target, c Checker, log io.Writer) *Runner {
	r := &Runner{opt: opt, targets: targets, checker: c, log: log}
	for _, t := range targets {
		// Two targets may be one process (X and X/h2): count it once.
		if t.PID > 0 && !slices.Contains(r.pids, t.PID) {
			r.pids = append(r.pids, t.PID)
		}
	}
	return r
}

// CheckPass runs every job whose target has a listener for its scenario
// once: the checker's request, then a load run of opt.Check with no errors
// allowed. It returns the jobs that passed and a line for each dropped.
func (r *Runner) CheckPass(ctx context.Context, scens []Scenario) (ok []Job, dropped []string) {
	for _, s := range scens {
		for _, t := range r.targets {
			if s.Addr(t) == "" {
				continue
			}
			j := Job{Scenario: s, Target: t}
			if err := r.check(ctx, j); err != nil {
				msg := fmt.Sprintf("%s/%s: %v", s.Name, t.Name, err)
				fmt.Fprintf(r.log, "check: DROP %s\n", msg)
				dropped = append(dropped, msg)
				continue
			}
			fmt.Fprintf(r.log, "check: ok   %s/%s\n", s.Name, t.Name)
			ok = append(ok, j)
		}
	}
	return ok, dropped
}

func (r *Runner) check(ctx context.Context, j Job) error {
	addr := j.Scenario.Addr(j.Target)
	if err := r.checker.Check(ctx, j, addr); err != nil {
		return err
	}
	res, err := j.Scenario.runLoad(ctx, addr, r.opt.Check, r.opt.LoadCore, r.opt.SuccessOnly)
	if err != nil {
		return err
	}
	if res.Requests == 0 || res.Errors > 0 {
		return fmt.Errorf("load run: %d requests, %d errors", res.Requests, res.Errors)
	}
	return nil
}

// Rounds takes opt.Rounds rounds over jobs. Inside a round, each scenario's
// targets are sampled one after the other, in an order rotated by one every
// round. It stops early, returning what it has, when ctx is done.
func (r *Runner) Rounds(ctx context.Context, jobs []Job) []Sample {
	var all []Sample
	for round := 1; round <= r.opt.Rounds; round++ {
		for _, group := range byScenario(jobs) {
			for _, j := range rotate(group, round-1) {
				if ctx.Err() != nil {
					return all
				}
				all = append(all, r.sample(ctx, round, j)...)
			}
		}
	}
	return all
}

// sample warms the job up, then measures it, retaking it while the noise
// gate trips, and returns every attempt.
func (r *Runner) sample(ctx context.Context, round int, j Job) []Sample {
	addr := j.Scenario.Addr(j.Target)
	if r.opt.Warmup > 0 {
		if _, err := j.Scenario.runLoad(ctx, addr, r.opt.Warmup, r.opt.LoadCore, r.opt.SuccessOnly); err != nil {
			fmt.Fprintf(r.log, "warm-up %s/%s: %v\n", j.Scenario.Name, j.Target.Name, err)
		}
	}
	var out []Sample
	for attempt := 0; attempt <= r.opt.MaxRetry; attempt++ {
		s := r.measure(ctx, j, addr)
		s.Round, s.Attempt = round, attempt
		if s.Status == statusNoisy && attempt == r.opt.MaxRetry {
			s.Status = statusKept
		}
		fmt.Fprintf(r.log, "round %d %-*s %-*s %s\n", round, r.opt.Widths[0], j.Scenario.Name,
			r.opt.Widths[1], j.Target.Name, s.line())
		out = append(out, s)
		if s.Status != statusNoisy {
			break
		}
	}
	return out
}

// measure takes one sample: snapshot, load run, snapshot, then the gates.
func (r *Runner) measure(ctx context.Context, j Job, addr string) Sample {
	s := Sample{Scenario: j.Scenario, Target: j.Target.Name}
	before, err := takeSnapshot(j.Target.PID, r.pids, r.loadPIDs())
	if err != nil {
		s.Status, s.Err = statusError, err.Error()
		return s
	}
	res, err := j.Scenario.runLoad(ctx, addr, r.opt.Duration, r.opt.LoadCore, r.opt.SuccessOnly)
	after, serr := takeSnapshot(j.Target.PID, r.pids, r.loadPIDs())
	if err == nil {
		err = serr
	}
	s.Result = res
	if err != nil {
		s.Status, s.Err = statusError, err.Error()
		return s
	}
	s.Usage = account(before, after, res.CPU, r.opt.ProxyCore, r.opt.LoadCore)
	switch {
	case res.Requests == 0 || float64(res.Errors) > r.opt.ErrMax*float64(res.Requests):
		s.Status = statusError
		s.Err = fmt.Sprintf("%d errors in %d requests", res.Errors, res.Requests)
	case s.Usage.ForeignLoad > r.opt.NoiseMax,
		j.Target.PID > 0 && s.Usage.ForeignProxy > r.opt.NoiseMax:
		// direct has nothing on the proxy core: what runs there cannot slow it.
		s.Status = statusNoisy
	default:
		s.Status = statusOK
	}
	return s
}

// loadPIDs are the backend and the Aux processes, counted together.
func (r *Runner) loadPIDs() []int { return append([]int{r.opt.Backend}, r.opt.Aux...) }

// line is a one-line progress report of the sample.
func (s Sample) line() string {
	if s.Err != "" {
		return fmt.Sprintf("%s %s", s.Status, s.Err)
	}
	u := s.Usage
	return fmt.Sprintf("%-2s rps=%s %s=%.2f proxy_cpu=%.2f load_cpu=%.2f backend_cpu=%.2f foreign=%.2f/%.2f",
		s.Status, formatRate(s.Result.RPS), s.Scenario.Latency, s.Result.LatencyMS, u.Proxy, u.Load, u.Backend,
		u.ForeignProxy, u.ForeignLoad)
}

// byScenario splits jobs into runs of the same scenario, keeping order.
func byScenario(jobs []Job) [][]Job {
	var groups [][]Job
	for i, j := range jobs {
		if i == 0 || j.Scenario.Name != jobs[i-1].Scenario.Name {
			groups = append(groups, nil)
		}
		groups[len(groups)-1] = append(groups[len(groups)-1], j)
	}
	return groups
}

// rotate returns jobs starting at index k mod len(jobs).
func rotate(jobs []Job, k int) []Job {
	if len(jobs) == 0 {
		return nil
	}
	k %= len(jobs)
	return append(append([]Job(nil), jobs[k:]...), jobs[:k]...)
}
