package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// userHZ is the unit of the times in /proc/stat and /proc/PID/stat.
const userHZ = 100.0

// snapshot is the CPU state at one instant: busy and irq time per core, and
// the CPU time of the process trees the harness knows.
type snapshot struct {
	at      time.Time
	busy    map[int]float64 // user+nice+system seconds per core
	irq     map[int]float64 // irq+softirq seconds per core
	targets float64         // every target's tree
	under   float64         // the target under test's tree
	backend float64
	self    float64
}

// takeSnapshot reads /proc. under is the target under test's PID (0 when it
// is the backend itself), all every target's PID.
func takeSnapshot(under int, all []int, backend int) (snapshot, error) {
	s := snapshot{at: time.Now()}
	var err error
	if s.busy, s.irq, err = coreTimes(); err != nil {
		return s, err
	}
	kids, err := children()
	if err != nil {
		return s, err
	}
	for _, pid := range all {
		t := treeCPU(pid, kids)
		s.targets += t
		if pid == under {
			s.under = t
		}
	}
	s.backend = treeCPU(backend, kids)
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return s, fmt.Errorf("getrusage: %w", err)
	}
	s.self = rusageSeconds(&ru)
	return s, nil
}

// coreTimes parses the per-CPU lines of /proc/stat.
func coreTimes() (busy, irq map[int]float64, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return nil, nil, fmt.Errorf("read /proc/stat: %w", err)
	}
	busy, irq = map[int]float64{}, map[int]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 || f[0] == "cpu" || !strings.HasPrefix(f[0], "cpu") {
			continue
		}
		n, err := strconv.Atoi(f[0][3:])
		if err != nil {
			return nil, nil, fmt.Errorf("/proc/stat: %q: %w", f[0], err)
		}
		var v [7]float64 // user nice system idle iowait irq softirq
		for i := range v {
			if v[i], err = strconv.ParseFloat(f[i+1], 64); err != nil {
				return nil, nil, fmt.Errorf("/proc/stat: %q: %w", line, err)
			}
		}
		busy[n] = (v[0] + v[1] + v[2]) / userHZ
		irq[n] = (v[5] + v[6]) / userHZ
	}
	return busy, irq, nil
}

// procStat answers a process's parent and its utime+stime in seconds.
func procStat(pid int) (ppid int, cpu float64, err error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, 0, fmt.Errorf("read stat of %d: %w", pid, err)
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // the name may hold spaces and ')'
	if i < 0 {
		return 0, 0, fmt.Errorf("stat of %d: no name", pid)
	}
	f := strings.Fields(s[i+1:]) // state ppid ... utime(11) stime(12)
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
		return 0, 0, fmt.Errorf("stat of %d: bad utime or stime", pid)
	}
	return ppid, (ut + st) / userHZ, nil
}

// children maps every live PID to its child PIDs.
func children() (map[int][]int, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("read /proc: %w", err)
	}
	m := map[int][]int{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, _, err := procStat(pid); err == nil {
			m[ppid] = append(m[ppid], pid)
		}
	}
	return m, nil
}

// treeCPU is the CPU seconds of root and its live descendants (0 for 0).
func treeCPU(root int, kids map[int][]int) float64 {
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
		stack = append(stack, kids[pid]...)
	}
	return sum
}

func rusageSeconds(ru *syscall.Rusage) float64 {
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// usage is a sample's CPU accounting in cores (CPU seconds per second).
type usage struct {
	Window       float64 // seconds between the snapshots
	Proxy        float64 // the target under test
	Backend      float64
	Load         float64 // the load generator (its rusage)
	ForeignProxy float64 // busy time on the proxy core that none of ours used
	ForeignLoad  float64 // the same on the load+backend core
	ProxyIRQ     float64 // irq+softirq on the proxy core, charged to nobody
}

// account turns the snapshots around a load run into usage; loadCPU is the
// load generator's own CPU seconds.
func account(before, after snapshot, loadCPU float64, proxyCore, loadCore int) usage {
	w := max(after.at.Sub(before.at).Seconds(), 1e-9)
	rate := func(a, b float64) float64 { return (b - a) / w }
	u := usage{
		Window:   w,
		Proxy:    rate(before.under, after.under),
		Backend:  rate(before.backend, after.backend),
		Load:     loadCPU / w,
		ProxyIRQ: rate(before.irq[proxyCore], after.irq[proxyCore]),
	}
	u.ForeignProxy = max(0, rate(before.busy[proxyCore], after.busy[proxyCore])-rate(before.targets, after.targets))
	ours := u.Backend + u.Load + rate(before.self, after.self)
	u.ForeignLoad = max(0, rate(before.busy[loadCore], after.busy[loadCore])-ours)
	return u
}
