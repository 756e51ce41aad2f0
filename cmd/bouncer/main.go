// Command bouncer is the Bouncer edge proxy and API gateway.
//
// Usage:
//
//	bouncer [run] [-config FILE]   serve (the embedded default config without -config)
//	bouncer validate FILE          check a config; exit 0 when valid, 1 when not
//	bouncer routes FILE            print the compiled route table in precedence order
//	bouncer version                print the version
//
// Exit codes: 0 success; 1 invalid config or a failure while serving;
// 2 bad command line.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/bouncer-proxy/bouncer/configs"
	"github.com/bouncer-proxy/bouncer/l4/upstream"
	"github.com/bouncer-proxy/bouncer/l7"
	"github.com/bouncer-proxy/bouncer/l7/policy"
	"github.com/bouncer-proxy/bouncer/l7/proxy"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

func main() {
	setGCPercent()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// defaultGCPercent is the garbage collector's target when GOGC is not
// set. A proxy's live heap is small and its allocation rate high: at Go's
// default of 100 the collector ran dozens of times a second under load and
// cost about a third of the CPU of a proxied gRPC call; at 400 a proxied
// call costs 35 instead of 50 us of CPU and the process holds about 20 MB
// more (bench/README.md). GOGC and GOMEMLIMIT still take precedence.
const defaultGCPercent = 400

func setGCPercent() {
	if _, ok := os.LookupEnv("GOGC"); !ok {
		debug.SetGCPercent(defaultGCPercent)
	}
}

func run(args []string, stdout, stderr io.Writer) int {
	cmd := "run"
	if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
		// Top-level help, not run's: "bouncer -h" asks about bouncer.
		cmd, args = "help", args[1:]
	} else if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "run":
		return cmdRun(args, stdout, stderr)
	case "validate":
		return cmdValidate(args, stdout, stderr)
	case "routes":
		return cmdRoutes(args, stdout, stderr)
	case "hash-key", "hash-password":
		return cmdHash(cmd, args, os.Stdin, stdout, stderr)
	case "version":
		fmt.Fprintf(stdout, "bouncer %s\n", version)
		return exitOK
	case "help":
		usage(stdout)
		return exitOK
	}
	fmt.Fprintf(stderr, "bouncer: unknown command %q\n\n", cmd)
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprint(w, `Bouncer: an edge proxy and API gateway.

Usage:
  bouncer [run] [-config FILE]   serve; with no -config, the embedded default config
  bouncer validate FILE          check a config: every problem with file:line and key path
  bouncer routes FILE            print the compiled route table in precedence order
  bouncer hash-key < KEY         print an API key's stored form (api_key.keys[].hash)
  bouncer hash-password < PASS   print a bcrypt hash (basic_auth.users[].hash; -cost N)
  bouncer version                print the version

Run 'bouncer COMMAND -h' for a command's flags.
Exit codes: 0 success, 1 invalid config or serving failure, 2 bad command line.
`)
}

func cmdRun(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "config `file` (default: the embedded default config)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: bouncer run [-config FILE]\n\nServe until SIGTERM or SIGINT (drain, then exit 0). SIGHUP or a change of FILE reloads it.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return flagExit(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "bouncer run: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	// Signals and file changes are caught before the banner says Bouncer
	// serves: a SIGHUP sent right after it must reload, not kill the
	// process (SIGHUP's default action), and an edit must not be missed.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	src := source{path: *path}
	cfg, err := src.load()
	if err != nil {
		fmt.Fprintf(stderr, "bouncer: invalid config:\n%v\n", err)
		return exitFailure
	}
	level := new(slog.LevelVar)
	log, access := newLoggers(cfg, level, stdout, stderr)
	changes, stopWatch := watchFile(src.path, log)
	defer stopWatch()
	app := newApp(src, log, level, access)
	if err := app.Start(cfg); err != nil {
		fmt.Fprintf(stderr, "bouncer: %v\n", err)
		_ = app.Shutdown(context.Background())
		return exitFailure
	}
	app.banner(stderr)
	return serveUntilSignal(app, sigs, changes, log)
}

// serveUntilSignal reloads on SIGHUP and file changes and drains on
// SIGTERM/SIGINT; a second SIGTERM/SIGINT during the drain exits at once.
func serveUntilSignal(app *App, sigs <-chan os.Signal, changes <-chan struct{}, log *slog.Logger) int {
	for {
		select {
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				_ = app.Reload()
				continue
			}
			log.Info("draining", "signal", sig.String())
			return drain(app, sigs, log)
		case <-changes:
			_ = app.Reload()
		case err := <-app.errc:
			log.Error("fatal", "error", err.Error())
			drain(app, sigs, log) // bounded by shutdown_timeout, like a SIGTERM
			return exitFailure
		}
	}
}

func drain(app *App, sigs <-chan os.Signal, log *slog.Logger) int {
	app.mu.Lock()
	timeout := app.cur.cfg.Server.ShutdownTimeout.D()
	app.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- app.Shutdown(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			log.Warn("drain deadline passed; remaining connections were closed", "error", err.Error())
		}
		log.Info("stopped")
		return exitOK
	case <-sigs:
		log.Warn("second signal: exiting without waiting")
		return exitFailure
	}
}

// watchFile reports changes of path (debounced: editors write in several
// steps). It watches the directory so that atomic renames are seen.
func watchFile(path string, log *slog.Logger) (<-chan struct{}, func()) {
	out := make(chan struct{}, 1)
	if path == "" {
		return out, func() {}
	}
	w, err := fsnotify.NewWatcher()
	if err == nil {
		err = w.Add(filepath.Dir(path))
	}
	if err != nil {
		log.Warn("config file changes will not be watched; use SIGHUP", "error", err.Error())
		return out, func() {}
	}
	abs, _ := filepath.Abs(path)
	stop := make(chan struct{})
	go func() {
		var debounce <-chan time.Time
		for {
			select {
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if p, _ := filepath.Abs(ev.Name); p == abs && ev.Op&(fsnotify.Write|fsnotify.Create|fsnotify.Rename) != 0 {
					debounce = time.After(150 * time.Millisecond)
				}
			case <-debounce:
				select {
				case out <- struct{}{}:
				default:
				}
			case <-w.Errors:
			case <-stop:
				return
			}
		}
	}()
	return out, func() { close(stop); _ = w.Close() }
}

func newLoggers(cfg *configs.Config, level *slog.LevelVar, stdout, stderr io.Writer) (*slog.Logger, *slog.Logger) {
	var l slog.Level
	_ = l.UnmarshalText([]byte(cfg.Log.Level))
	level.Set(l)
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(stderr, opts)), slog.New(slog.NewJSONHandler(stdout, nil))
	}
	return slog.New(slog.NewTextHandler(stderr, opts)), slog.New(slog.NewTextHandler(stdout, nil))
}

func flagExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	return exitUsage
}

// commandHelp describes validate and routes in their -h output.
func commandHelp(name string) string {
	if name == "validate" {
		return "Decode, validate and compile FILE as a run would, without binding sockets.\n" +
			"Prints \"FILE: ok\" and exits 0 when it is valid; otherwise lists every problem\n" +
			"as file:line: key.path: message and exits 1."
	}
	return "Print the compiled route table of FILE, per listener, in precedence order:\n" +
		"the route listed first wins when several match. Exits 1 when FILE is invalid."
}

// loadAndBuild is validate's and routes' shared step: decode, validate,
// and compile everything that a run would, without binding sockets.
func loadAndBuild(name string, args []string, stderr io.Writer) (*generation, int) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: bouncer %s FILE\n\n%s\n", name, commandHelp(name))
	}
	if err := fs.Parse(args); err != nil {
		return nil, flagExit(err)
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return nil, exitUsage
	}
	cfg, err := configs.Load(fs.Arg(0))
	if err == nil {
		reg := upstream.NewRegistry(upstream.Options{Logger: slog.New(slog.DiscardHandler)})
		defer reg.Close()
		pol := policy.NewState(slog.New(slog.DiscardHandler), nil)
		defer pol.Close()
		var g *generation
		g, err = build(cfg, deps{reg: reg, tr: proxy.NewTransports(), grpc: newGRPCSources(slog.New(slog.DiscardHandler)), log: slog.New(slog.DiscardHandler), pol: pol})
		if err == nil {
			return g, exitOK
		}
	} else {
		err = withRouteProblems(fs.Arg(0), err)
	}
	fmt.Fprintln(stderr, err)
	return nil, exitFailure
}

// withRouteProblems adds route-table problems (conflicting routes, bad
// templates) to a config's validation errors, so that one run of
// `bouncer validate` lists every problem, not only those found before
// the route tables are compiled.
func withRouteProblems(path string, err error) error {
	var es configs.Errors
	data, rerr := configs.ReadFile(path)
	if !errors.As(err, &es) || rerr != nil {
		return err
	}
	cfg, _ := configs.DecodePartial(data, path)
	if cfg == nil {
		return err
	}
	for i := range cfg.Routes {
		if cfg.Routes[i].Name == "" {
			cfg.Routes[i].Name = fmt.Sprintf("route-%d", i)
		}
	}
	_, rerrs := buildTables(cfg, make([]*l7.Route, len(cfg.Routes)), nil)
	seen := map[string]bool{}
	for _, e := range es {
		seen[e.Path] = true
	}
	for _, e := range rerrs {
		if !seen[e.Path] {
			es = append(es, e)
		}
	}
	sort.SliceStable(es, func(i, j int) bool { return es[i].Line < es[j].Line })
	return es
}

func cmdValidate(args []string, stdout, stderr io.Writer) int {
	g, code := loadAndBuild("validate", args, stderr)
	if g == nil {
		return code
	}
	fmt.Fprintf(stdout, "%s: ok (%d listeners, %d routes, %d upstreams)\n", g.cfg.File, len(g.cfg.Listeners), len(g.cfg.Routes), len(g.cfg.Upstreams))
	return exitOK
}

func cmdRoutes(args []string, stdout, stderr io.Writer) int {
	g, code := loadAndBuild("routes", args, stderr)
	if g == nil {
		return code
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	for _, l := range g.cfg.Listeners {
		fmt.Fprintf(tw, "listener %s (%s)\n", l.Name, l.Address)
		fmt.Fprintln(tw, "  #\tROUTE\tHOSTS\tPATH\tMETHODS\tCONDITIONS\tACTION\tPOLICIES (in the order they run)")
		for i, row := range g.snap.Tables[l.Name].Rows() {
			rc := g.cfg.Routes[row.Index]
			fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", i+1, row.Name, dash(row.Hosts), dash(row.Path), dash(row.Methods), dash(row.Conditions), action(rc),
				dash(strings.Join(g.policies.Names(routePolicies(l, rc)), ", ")))
		}
		fmt.Fprintln(tw)
	}
	_ = tw.Flush()
	return exitOK
}

func action(r configs.Route) string {
	switch {
	case r.Proxy != nil && r.Split != nil:
		return "proxy → split of " + r.Proxy.Upstream + " and others"
	case r.Proxy != nil && r.Versions != nil:
		return "proxy → by API version"
	case r.Proxy != nil:
		return "proxy → " + r.Proxy.Upstream
	case r.Aggregate != nil:
		return fmt.Sprintf("aggregate of %d calls", len(r.Aggregate.Calls))
	case r.Transcode != nil:
		return "transcode → " + r.Transcode.Upstream + " (gRPC; bindings from its descriptors at run time)"
	case r.Redirect != nil:
		return fmt.Sprintf("redirect %d", r.Redirect.Status)
	default:
		return fmt.Sprintf("respond %d", r.Respond.Status)
	}
}

func dash(s string) string {
	if s == "" {
		return "*"
	}
	return s
}
