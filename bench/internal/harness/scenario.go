package harness

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Target is one server under test: its process tree and its listeners.
type Target struct {
	Name  string
	PID   int               // root of its process tree; 0 when it is the backend itself
	Addrs map[string]string // host:port of each listener, by the key of its flag
}

// ParseTarget reads "name,pid=N,key=host:port,...", where each key is one
// of keys (the command's kinds of listener).
func ParseTarget(s string, keys ...string) (Target, error) {
	parts := strings.Split(s, ",")
	t := Target{Name: parts[0], Addrs: map[string]string{}}
	for _, p := range parts[1:] {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			return t, fmt.Errorf("target %q: %q is not key=value", s, p)
		}
		switch {
		case k == "pid":
			n, err := strconv.Atoi(v)
			if err != nil {
				return t, fmt.Errorf("target %q: pid: %w", s, err)
			}
			t.PID = n
		case slices.Contains(keys, k):
			t.Addrs[k] = v
		default:
			return t, fmt.Errorf("target %q: unknown key %q", s, k)
		}
	}
	if t.Name == "" {
		return t, fmt.Errorf("target %q: no name", s)
	}
	return t, nil
}

// ListFlag collects a repeated flag.
type ListFlag []string

func (l *ListFlag) String() string     { return strings.Join(*l, " ") }
func (l *ListFlag) Set(v string) error { *l = append(*l, v); return nil }

// Scenario is one kind of load: a load generator, the request it sends and
// the target listener it needs.
type Scenario struct {
	Name     string
	Listener string   // key of the target's listener it loads (Target.Addrs)
	H2load   bool     // h2load, 4 connections x 32 streams; else wrk, 1 thread, 50 connections
	Ghz      bool     // ghz, 4 connections x 128 workers, calling the gRPC method Path names
	Gen      string   // path of a Go load generator of bench/loadgen (output: see ParseGoLoad)
	Scheme   string   // of the URL: "https" (h2 over TLS) or "http" (HTTP/1.1, or h2c with h2load)
	Method   string   // of the request, for the command's check
	Path     string   // requested path
	Size     int      // body size the command's check expects, if it checks one
	Args     []string // more load generator flags, put before the URL
	Headers  []string // "Name: value" request headers: -H for wrk and h2load, and for the command's check
	Latency  string   // name of the latency figure: p99_ms (wrk, ghz) or mean_ms (h2load); a Go generator has both
}

// Addr is t's listener for s, or "" when it has none.
func (s Scenario) Addr(t Target) string { return t.Addrs[s.Listener] }

// PickScenarios returns the scenarios of all named in list (comma or space
// separated), in the order of all, and the names it does not know. Several
// scenarios of all may share a name (variants whose jobs make one table,
// such as h3 and its h2 rows); a name picks them all.
func PickScenarios(all []Scenario, list string) (picked []Scenario, unknown []string) {
	want := make(map[string]bool)
	for _, n := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' }) {
		want[n] = false
	}
	for _, s := range all {
		if _, ok := want[s.Name]; ok {
			picked = append(picked, s)
			want[s.Name] = true
		}
	}
	for n, found := range want {
		if !found {
			unknown = append(unknown, n)
		}
	}
	return picked, unknown
}

// command is the load generator's argv for a run of d against addr, pinned
// to core with taskset.
func (s Scenario) command(addr string, d time.Duration, core int) []string {
	secs := strconv.Itoa(int(d.Round(time.Second) / time.Second))
	argv := []string{"taskset", "-c", strconv.Itoa(core)}
	switch {
	case s.Ghz:
		return append(append(append(argv, s.ghzFlags(secs)...), s.Args...), addr)
	case s.Gen != "":
		// One Go thread, like wrk -t1 and h2load -t1.
		// A scenario without a path (raw TCP) passes its flags in Args.
		argv = append(argv, "env", "GOMAXPROCS=1", s.Gen, "-d", d.String())
		if s.Path != "" {
			argv = append(argv, "-path", s.Path, "-size", strconv.Itoa(s.Size))
		}
		return append(append(argv, s.Args...), addr)
	case s.H2load:
		argv = append(argv, "h2load", "-t1", "-c4", "-m32", "-D", secs)
	default:
		argv = append(argv, "wrk", "-t1", "-c50", "-d"+secs+"s", "--latency")
	}
	for _, h := range s.Headers {
		argv = append(argv, "-H", h)
	}
	argv = append(argv, s.Args...)
	return append(argv, s.Scheme+"://"+addr+s.Path)
}

// ghzFlags starts ghz's argv: one Go thread (it runs pinned to one core),
// 128 concurrent calls over 4 connections like h2load's -c4 -m32, and
// "--duration-stop ignore", so that the calls cut off at the end are
// neither errors nor latencies. Plain h2c for "http", TLS without
// verification for "https". s.Args add the protoset and the message.
func (s Scenario) ghzFlags(secs string) []string {
	tls := "--insecure"
	if s.Scheme == "https" {
		tls = "--skipTLS"
	}
	return []string{"ghz", tls, "--cpus", "1", "--connections", "4", "--concurrency", "128",
		"-z", secs + "s", "--duration-stop", "ignore", "--call", strings.TrimPrefix(s.Path, "/")}
}

// runLoad runs the load generator for d and parses what it prints (see
// ParseWrk and ParseH2load for successOnly; ghz and the Go generators count
// only successes). The run is bounded: it is
// killed if it lasts 30 s longer than asked.
func (s Scenario) runLoad(ctx context.Context, addr string, d time.Duration, core int, successOnly bool) (LoadResult, error) {
	ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	argv := s.command(addr, d, core)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return LoadResult{}, fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, Tail(out))
	}
	var r LoadResult
	switch {
	case s.Ghz:
		r, err = ParseGhz(string(out))
	case s.Gen != "":
		r, err = ParseGoLoad(string(out), s.Latency)
	case !s.H2load:
		r, err = ParseWrk(string(out), successOnly)
	case s.Scheme == "https":
		r, err = ParseH2load(string(out), "h2", successOnly)
	default:
		r, err = ParseH2load(string(out), "h2c", successOnly)
	}
	if err != nil {
		return r, fmt.Errorf("%w: %s", err, Tail(out))
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.CPU = rusageSeconds(ru)
	}
	return r, nil
}

// Tail is the last few hundred bytes of a tool's output or an answer, for
// error messages.
func Tail(b []byte) string {
	const n = 400
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return strings.TrimSpace(string(b))
}
