package harness

import (
	"os"
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
