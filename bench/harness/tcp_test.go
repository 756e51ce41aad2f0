package main

import (
	"io"
	"net"
	"testing"

	"github.com/bouncer-proxy/bouncer/bench/internal/harness"
	"github.com/bouncer-proxy/bouncer/internal/testsvc"
)

// serveTCP handles every connection of a loopback listener with handle
// until the test ends, and returns its address.
func serveTCP(t *testing.T, handle func(net.Conn)) string { return testsvc.ServeTCP(t, handle) }

func TestCheckTCP(t *testing.T) {
	source := serveTCP(t, func(c net.Conn) {
		buf := make([]byte, 64<<10)
		for {
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
	})
	short := serveTCP(t, func(c net.Conn) { c.Write(make([]byte, 1000)) })
	echo := serveTCP(t, func(c net.Conn) { io.Copy(c, c) })
	wrong := serveTCP(t, func(c net.Conn) {
		buf := make([]byte, 64)
		if _, err := io.ReadFull(c, buf); err == nil {
			c.Write(make([]byte, 64))
		}
	})
	var thr, rate harness.Scenario
	for _, s := range scenarios {
		switch s.Name {
		case "tcp-throughput":
			thr = s
		case "tcp-connrate":
			rate = s
		}
	}
	if thr.Listener != keySource || rate.Listener != keyEcho {
		t.Fatalf("tcp scenarios: %+v, %+v", thr, rate)
	}
	tests := []struct {
		name    string
		scen    harness.Scenario
		addr    string
		wantErr bool
	}{
		{"source", thr, source, false},
		{"source closes early", thr, short, true},
		{"echo", rate, echo, false},
		{"echo garbled", rate, wrong, true},
		{"echo closes", rate, short, true},
		{"unknown listener", harness.Scenario{Name: "x", Scheme: "tcp", Listener: "h1"}, echo, true},
	}
	c := checker{}
	for _, tc := range tests {
		err := c.Check(t.Context(), harness.Job{Scenario: tc.scen}, tc.addr)
		if (err != nil) != tc.wantErr {
			t.Errorf("%s: err %v, want error %v", tc.name, err, tc.wantErr)
		}
	}
}

func TestParseFlagsTCP(t *testing.T) {
	p, err := parseFlags([]string{"-target", "bouncer,pid=4,h1=127.0.0.1:1,tcpsrc=127.0.0.1:2,tcpecho=127.0.0.1:3",
		"-scenarios", "tcp-connrate tcp-throughput", "-loadgen-dir", "/gen", "-out", "x.md"})
	if err != nil {
		t.Fatal(err)
	}
	tg := p.Targets[0]
	if tg.Addrs[keySource] != "127.0.0.1:2" || tg.Addrs[keyEcho] != "127.0.0.1:3" {
		t.Fatalf("target %+v", tg)
	}
	if len(p.Scenarios) != 2 || p.Scenarios[0].Name != "tcp-throughput" || p.Scenarios[1].Gen != "/gen/tcpload" ||
		p.Refs["tcp-connrate"] != "nginx" {
		t.Fatalf("plan %+v", p)
	}
}
