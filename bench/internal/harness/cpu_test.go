package harness

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

func TestProcReadings(t *testing.T) {
	ppid, cpu, err := procStat(os.Getpid())
	if err != nil {
		t.Fatalf("procStat: %v", err)
	}
	if ppid != os.Getppid() || cpu < 0 {
		t.Fatalf("ppid %d cpu %v, want ppid %d", ppid, cpu, os.Getppid())
	}
	children, err := childMap()
	if err != nil {
		t.Fatalf("childMap: %v", err)
	}
	found := false
	for _, c := range children[os.Getppid()] {
		found = found || c == os.Getpid()
	}
	if !found {
		t.Fatal("this process is not among its parent's children")
	}
	if got := treeCPU(os.Getppid(), children); got < cpu {
		t.Fatalf("parent tree %v < own %v", got, cpu)
	}
	busy, err := readCoreBusy()
	if err != nil || len(busy) == 0 {
		t.Fatalf("readCoreBusy: %v, %d cores", err, len(busy))
	}
}

func TestAccount(t *testing.T) {
	t0 := time.Unix(100, 0)
	before := snapshot{at: t0, core: map[int]coreTimes{0: {busy: 10}, 1: {busy: 20, irq: 1}}}
	tests := []struct {
		name                     string
		after                    snapshot
		loadCPU                  float64
		proxy, foreignP, foreign float64
	}{
		{
			name: "quiet",
			after: snapshot{at: t0.Add(2 * time.Second), core: map[int]coreTimes{0: {busy: 11.8}, 1: {busy: 21.2, irq: 1.2}},
				targets: 1.2, target: 1.0, backend: 0.8},
			loadCPU: 1.0, proxy: 0.5, foreignP: 0, foreign: 0,
		},
		{
			name: "neighbour on both cores",
			after: snapshot{at: t0.Add(2 * time.Second), core: map[int]coreTimes{0: {busy: 12}, 1: {busy: 22, irq: 1}},
				targets: 1.0, target: 1.0, backend: 0.5},
			loadCPU: 0.5, proxy: 0.5, foreignP: 0.5, foreign: 0.5,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := account(before, tc.after, tc.loadCPU, 1, 0)
			if !closeTo(u.Proxy, tc.proxy) || u.ProxyIRQ < 0 || !closeTo(u.ForeignProxy, tc.foreignP) || !closeTo(u.ForeignLoad, tc.foreign) {
				t.Fatalf("got %+v", u)
			}
		})
	}
}

// TestSnapshotCountsAux: the CPU of the backend and of every Aux process
// lands in the backend figure, so a Redis server of ours on the load core
// is not foreign.
func TestSnapshotCountsAux(t *testing.T) {
	// A child that burns some CPU, then waits to be killed.
	cmd := exec.Command("sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; exec sleep 60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	var one snapshot
	for {
		var err error
		if one, err = takeSnapshot(0, nil, []int{cmd.Process.Pid}); err != nil {
			t.Fatal(err)
		}
		if one.backend > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond) // polling the child's CPU time, bounded by the deadline
	}
	if one.backend <= 0 {
		t.Fatal("the child's CPU time was never seen")
	}
	both, err := takeSnapshot(0, nil, []int{os.Getpid(), cmd.Process.Pid})
	if err != nil {
		t.Fatal(err)
	}
	if both.backend < one.backend {
		t.Fatalf("backend %v with two processes < %v with one", both.backend, one.backend)
	}
}
