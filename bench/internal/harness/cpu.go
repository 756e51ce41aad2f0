// Package harness is the common part of the benchmark harnesses of bench/run.sh
// and bench/grpc/run.sh: CPU and noise accounting from /proc, the load
// generators and their output, the rounds with rotation and retakes, and
// the results file with its tables of medians and ratios. A command adds
// its scenarios and the check of one request (a [Checker]).
package harness

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTick is USER_HZ, the unit of /proc/stat and /proc/PID/stat times; the
// kernel reports 100 on every architecture Go builds this harness for.
const clockTick = 100.0

// snapshot is the CPU state read at one instant: busy time per core and the
// CPU time of the process trees the harness owns.
type snapshot struct {
	at      time.Time
	core    map[int]coreTimes
	targets float64 // all running targets, every process of their trees
	target  float64 // the target under test only
	backend float64 // the trees of the backend and the Aux processes
	self    float64 // this harness
}

// takeSnapshot reads /proc. under is the PID of the target under test (0 for
// none, as for direct); all lists every target's PID; backend lists the
// processes of ours on the load core besides the load generator and this
// harness (the backend, a Redis server).
func takeSnapshot(under int, all []int, backend []int) (snapshot, error) {
	s := snapshot{at: time.Now()}
	var err error
	if s.core, err = readCoreBusy(); err != nil {
		return s, err
	}
	children, err := childMap()
	if err != nil {
		return s, err
	}
	for _, pid := range all {
		t := treeCPU(pid, children)
		s.targets += t
		if pid == under {
			s.target = t
		}
	}
	for _, pid := range backend {
		s.backend += treeCPU(pid, children)
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return s, fmt.Errorf("getrusage: %w", err)
	}
	s.self = rusageSeconds(&ru)
	return s, nil
}

// coreTimes is one CPU's line of /proc/stat, in seconds.
type coreTimes struct {
	busy float64 // user+nice+system: time charged to processes
	irq  float64 // irq+softirq: not charged to any process
}

// readCoreBusy returns the times of every CPU from /proc/stat.
func readCoreBusy() (map[int]coreTimes, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return nil, fmt.Errorf("read /proc/stat: %w", err)
	}
	times := make(map[int]coreTimes)
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 || !strings.HasPrefix(f[0], "cpu") || f[0] == "cpu" {
			continue
		}
		n, err := strconv.Atoi(f[0][3:])
		if err != nil {
			return nil, fmt.Errorf("/proc/stat: %q: %w", f[0], err)
		}
		// Fields: user nice system idle iowait irq softirq ...
		var v [7]float64
		for i := range v {
			if v[i], err = strconv.ParseFloat(f[i+1], 64); err != nil {
				return nil, fmt.Errorf("/proc/stat: %q: %w", line, err)
			}
		}
		times[n] = coreTimes{busy: (v[0] + v[1] + v[2]) / clockTick, irq: (v[5] + v[6]) / clockTick}
	}
	return times, nil
}

// procStat returns the parent PID and utime+stime seconds of a process
// (all its threads), from /proc/PID/stat.
func procStat(pid int) (ppid int, cpu float64, err error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, 0, fmt.Errorf("read stat of %d: %w", pid, err)
	}
	// The command name is in parentheses and may itself hold spaces or ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("stat of %d: no command name", pid)
	}
	f := strings.Fields(s[i+1:])
	// After the name: state(0) ppid(1) ... utime(11) stime(12).
	if len(f) < 13 {
		return 0, 0, fmt.Errorf("stat of %d: %d fields", pid, len(f))
	}
	ppid, err = strconv.Atoi(f[1])
	if err != nil {
		return 0, 0, fmt.Errorf("stat of %d: ppid: %w", pid, err)
	}
	ut, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("stat of %d: bad utime/stime", pid)
	}
	return ppid, (ut + st) / clockTick, nil
}

// childMap maps every live PID to its children.
func childMap() (map[int][]int, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("read /proc: %w", err)
	}
	m := make(map[int][]int)
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		ppid, _, err := procStat(pid)
		if err != nil {
			continue // exited while we looked
		}
		m[ppid] = append(m[ppid], pid)
	}
	return m, nil
}

// treeCPU sums the CPU seconds of root and its live descendants; 0 for root
// 0 or a process that is gone.
func treeCPU(root int, children map[int][]int) float64 {
	if root <= 0 {
		return 0
	}
	var sum float64
	stack := []int{root}
	for len(stack) > 0 {
		pid := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if _, cpu, err := procStat(pid); err == nil {
			sum += cpu
		}
		stack = append(stack, children[pid]...)
	}
	return sum
}

func rusageSeconds(ru *syscall.Rusage) float64 {
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// Usage is one sample's CPU accounting, in cores (CPU seconds per second).
type Usage struct {
	Window       float64 // seconds between the two snapshots
	Proxy        float64 // the target under test
	Backend      float64
	Load         float64 // the load generator
	ForeignProxy float64 // busy time on the proxy core none of ours used
	ForeignLoad  float64 // same on the load+backend core
	// ProxyIRQ is irq+softirq time on the proxy core. The kernel's network
	// work is partly here rather than in the target's own CPU time.
	ProxyIRQ float64
}

// account turns two snapshots around a load run into per-core usage.
// loadCPU is the load generator's own CPU seconds (from its rusage).
func account(before, after snapshot, loadCPU float64, proxyCore, loadCore int) Usage {
	w := after.at.Sub(before.at).Seconds()
	if w <= 0 {
		w = 1e-9
	}
	rate := func(a, b float64) float64 { return (b - a) / w }
	u := Usage{
		Window:  w,
		Proxy:   rate(before.target, after.target),
		Backend: rate(before.backend, after.backend),
		Load:    loadCPU / w,
	}
	busy1 := rate(before.core[proxyCore].busy, after.core[proxyCore].busy)
	u.ProxyIRQ = rate(before.core[proxyCore].irq, after.core[proxyCore].irq)
	ours1 := rate(before.targets, after.targets)
	u.ForeignProxy = max(0, busy1-ours1)
	busy0 := rate(before.core[loadCore].busy, after.core[loadCore].busy)
	ours0 := u.Backend + u.Load + rate(before.self, after.self)
	u.ForeignLoad = max(0, busy0-ours0)
	return u
}
