package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/bouncer-proxy/bouncer/bench/internal/harness"
)

// Listener keys of a target's raw TCP listeners: one proxying to the
// backend's TCP source, one to its TCP echo ports.
const (
	keySource = "tcpsrc"
	keyEcho   = "tcpecho"
)

// checkMB is what the check reads from a TCP source: enough to cross the
// proxy's buffers a few times.
const checkMB = 4 << 20

// checkTCP checks a raw TCP job: through a source listener, that checkMB
// bytes arrive; through an echo listener, that 64 bytes come back as sent.
func checkTCP(ctx context.Context, s harness.Scenario, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("connect %s: %w", addr, err)
	}
	defer c.Close()
	dl, _ := ctx.Deadline()
	c.SetDeadline(dl)
	switch s.Listener {
	case keySource:
		n, err := io.CopyN(io.Discard, c, checkMB)
		if err != nil {
			return fmt.Errorf("read %s: %d of %d bytes: %w", addr, n, checkMB, err)
		}
		return nil
	case keyEcho:
		msg := bytes.Repeat([]byte("tcp-echo"), 8)
		if _, err := c.Write(msg); err != nil {
			return fmt.Errorf("write %s: %w", addr, err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(c, got); err != nil {
			return fmt.Errorf("read echo %s: %w", addr, err)
		}
		if !bytes.Equal(got, msg) {
			return fmt.Errorf("echo %s: got %q, want %q", addr, got, msg)
		}
		return nil
	}
	return fmt.Errorf("scenario %s: no TCP check for listener %q", s.Name, s.Listener)
}
