package main

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/bouncer-proxy/bouncer/internal/testsvc"
)

// serve handles each connection to a loopback port with handle until the
// test ends; it returns the address.
func serve(t *testing.T, handle func(net.Conn)) string { return testsvc.ServeTCP(t, handle) }

func source(c net.Conn) {
	chunk := make([]byte, 256<<10)
	for {
		if _, err := c.Write(chunk); err != nil {
			return
		}
	}
}

func echo(c net.Conn) { io.Copy(c, c) }

// garble answers with the right length and the wrong bytes.
func garble(c net.Conn) {
	buf := make([]byte, 64)
	if _, err := io.ReadFull(c, buf); err == nil {
		c.Write(make([]byte, 64))
	}
}

func TestRun(t *testing.T) {
	src2 := serve(t, source)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := ln.Addr().String()
	ln.Close()
	tests := []struct {
		name       string
		opt        options
		rate       string
		wantErrors bool
	}{
		{"read", options{mode: "read", addr: serve(t, source), conns: 2}, "gbps", false},
		{"read default conns", options{mode: "read", addr: src2}, "gbps", false},
		{"connrate", options{mode: "connrate", addr: serve(t, echo), conns: 4, sources: 2}, "cps", false},
		{"connrate kernel source", options{mode: "connrate", addr: serve(t, echo), conns: 2}, "cps", false},
		{"connrate garbled", options{mode: "connrate", addr: serve(t, garble), conns: 2, sources: 2}, "cps", true},
		{"connrate refused", options{mode: "connrate", addr: refused, conns: 1}, "cps", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opt.duration, tc.opt.size = 300*time.Millisecond, 64
			s, err := run(t.Context(), tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			line := s.Line()
			if !strings.HasPrefix(line, tc.rate+"=") {
				t.Errorf("line %q does not start with %s=", line, tc.rate)
			}
			if tc.wantErrors {
				if s.Errors == 0 || s.OK != 0 {
					t.Fatalf("%d ok, %d errors, want only errors: %s", s.OK, s.Errors, line)
				}
				return
			}
			if s.OK == 0 || s.Errors != 0 {
				t.Fatalf("%d ok, %d errors (first %v): %s", s.OK, s.Errors, s.FirstErr, line)
			}
		})
	}
}

// TestReadRedials: a source that closes after a few megabytes makes errors,
// and the worker dials again and goes on reading.
func TestReadRedials(t *testing.T) {
	addr := serve(t, func(c net.Conn) { c.Write(make([]byte, 2*block+10)) })
	s, err := run(t.Context(), options{mode: "read", addr: addr, conns: 1, duration: 300 * time.Millisecond, size: 64})
	if err != nil {
		t.Fatal(err)
	}
	if s.OK < 4 || s.Errors == 0 {
		t.Fatalf("%d ok, %d errors: want redials", s.OK, s.Errors)
	}
}

func TestRunErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := ln.Addr().String()
	ln.Close()
	for _, o := range []options{
		{mode: "write", addr: refused, duration: time.Second, size: 64},
		{mode: "read", addr: refused, duration: 0, size: 64},
		{mode: "connrate", addr: refused, duration: time.Second, size: 0},
		{mode: "connrate", addr: refused, duration: time.Second, size: 64, sources: 300},
		{mode: "read", addr: refused, duration: time.Second, size: 64}, // nothing to read from
	} {
		if _, err := run(t.Context(), o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}
