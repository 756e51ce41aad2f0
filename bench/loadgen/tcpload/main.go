// Command tcpload is the bench harness's load generator for raw TCP
// (scenarios tcp-throughput and tcp-connrate, see bench/README.md).
//
//	tcpload -mode read [-c 4] [-d 10s] host:port
//	tcpload -mode connrate [-c 16] [-d 10s] [-size 64] [-sources 16] host:port
//
// -mode read opens -c connections to a TCP source (a server that sends an
// endless stream) before the run, then reads from all of them as fast as
// it can for -d. An operation is one megabyte (1e6 B) read on one
// connection; the rate is gbps, gigabytes (1e9 B) per second, requests
// counts the megabytes and the latency is the time each one took.
//
// -mode connrate runs -c loops against a TCP echo: connect, write -size
// bytes, read them back (they must be the same), close. The rate is cps,
// connections per second, and the latency is that whole sequence. The loops
// connect from -sources local addresses 127.0.1.1, 127.0.1.2, ..., with the
// port chosen at connect time: on loopback one address pair tops out at
// about 14k connections/s, because a port in TIME_WAIT is reused towards
// the same destination at most once a second.
//
// Both print one line in the format of bench/loadgen/loadstat.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bouncer-proxy/bouncer/bench/loadgen/loadstat"
)

// block is what one read operation receives: one megabyte.
const block = 1_000_000

func main() { os.Exit(cmd()) }

// cmd runs the command and returns its exit code.
func cmd() int {
	var o options
	flag.StringVar(&o.mode, "mode", "read", "read (download from a TCP source) or connrate (echo connections)")
	flag.IntVar(&o.conns, "c", 0, "connections (read) or loops (connrate); 0: 4 or 16")
	flag.DurationVar(&o.duration, "d", 10*time.Second, "measured duration")
	flag.IntVar(&o.size, "size", 64, "bytes echoed per connection (connrate)")
	flag.IntVar(&o.sources, "sources", 16, "local addresses 127.0.1.x to connect from (connrate; 0: the kernel's choice)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: tcpload [flags] host:port")
		return 2
	}
	o.addr = flag.Arg(0)
	s, err := run(context.Background(), o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "tcpload: %v\n", err)
		return 1
	}
	fmt.Println(s.Line())
	if s.FirstErr != nil {
		fmt.Fprintf(os.Stderr, "tcpload: first error: %v\n", s.FirstErr)
	}
	return 0
}

// options are the flags of a run.
type options struct {
	mode     string
	addr     string
	conns    int
	duration time.Duration
	size     int
	sources  int
}

// run checks the options and runs the mode's load.
func run(ctx context.Context, o options) (loadstat.Summary, error) {
	if o.conns < 0 || o.duration <= 0 || o.size < 1 || o.sources < 0 || o.sources > 254 {
		return loadstat.Summary{}, fmt.Errorf("need -c >= 0, -d > 0, -size >= 1 and 0 <= -sources <= 254")
	}
	switch o.mode {
	case "read":
		if o.conns == 0 {
			o.conns = 4
		}
		return runRead(ctx, o)
	case "connrate":
		if o.conns == 0 {
			o.conns = 16
		}
		return runConnrate(ctx, o), nil
	}
	return loadstat.Summary{}, fmt.Errorf("unknown -mode %q (read or connrate)", o.mode)
}

// runRead dials every connection, then reads megabytes on all of them for
// the duration. A connection that fails is dialled again by the next
// operation of its worker.
func runRead(ctx context.Context, o options) (loadstat.Summary, error) {
	r := &reader{addr: o.addr, conns: make([]net.Conn, o.conns), bufs: make([][]byte, o.conns)}
	defer r.close()
	for i := range r.conns {
		c, err := dial(ctx, net.Dialer{Timeout: 5 * time.Second}, o.addr)
		if err != nil {
			return loadstat.Summary{}, err
		}
		r.conns[i], r.bufs[i] = c, make([]byte, block)
	}
	s := loadstat.Merge("gbps", o.duration, loadstat.Drive(ctx, o.conns, o.duration, r.read))
	s.PerOp = block / 1e9
	return s, nil
}

// reader holds one connection and buffer per worker; worker w touches
// only index w until Drive returns.
type reader struct {
	addr  string
	conns []net.Conn
	bufs  [][]byte
}

// read receives one megabyte on worker w's connection.
func (r *reader) read(ctx context.Context, w int) error {
	if r.conns[w] == nil {
		c, err := dial(ctx, net.Dialer{Timeout: 5 * time.Second}, r.addr)
		if err != nil {
			return err
		}
		r.conns[w] = c
	}
	c := r.conns[w]
	if dl, ok := ctx.Deadline(); ok {
		c.SetReadDeadline(dl)
	}
	if _, err := io.ReadFull(c, r.bufs[w]); err != nil {
		c.Close()
		r.conns[w] = nil
		return fmt.Errorf("read: %w", err)
	}
	return nil
}

// close closes the connections still open.
func (r *reader) close() {
	for _, c := range r.conns {
		if c != nil {
			c.Close()
		}
	}
}

// runConnrate runs the echo loops for the duration.
func runConnrate(ctx context.Context, o options) loadstat.Summary {
	e := &echoer{opt: o, msg: make([]byte, o.size), bufs: make([][]byte, o.conns)}
	for i := range e.msg {
		e.msg[i] = byte('0' + i%10)
	}
	for i := range e.bufs {
		e.bufs[i] = make([]byte, o.size)
	}
	return loadstat.Merge("cps", o.duration, loadstat.Drive(ctx, o.conns, o.duration, e.once))
}

// echoer is what the loops share; bufs has one read buffer per loop.
type echoer struct {
	opt  options
	msg  []byte
	bufs [][]byte
}

// once is one loop iteration: connect, write the message, read it back,
// close.
func (e *echoer) once(ctx context.Context, loop int) error {
	d := net.Dialer{Timeout: 5 * time.Second}
	if e.opt.sources > 0 {
		d.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 1, byte(1+loop%e.opt.sources))}
		d.Control = bindNoPort
	}
	c, err := dial(ctx, d, e.opt.addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	if _, err := c.Write(e.msg); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	buf := e.bufs[loop]
	if _, err := io.ReadFull(c, buf); err != nil {
		return fmt.Errorf("read echo: %w", err)
	}
	if !bytes.Equal(buf, e.msg) {
		return fmt.Errorf("echo differs from what was sent")
	}
	return nil
}

// dial connects to addr.
func dial(ctx context.Context, d net.Dialer, addr string) (net.Conn, error) {
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	return c, nil
}

// bindNoPort makes a socket bound to a local address take its port at
// connect time (IP_BIND_ADDRESS_NO_PORT), where the kernel can reuse ports
// in TIME_WAIT towards other destinations; bind would pick a port free for
// every destination.
func bindNoPort(_, _ string, rc syscall.RawConn) error {
	var serr error
	err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
	})
	if err != nil {
		return fmt.Errorf("bind no port: %w", err)
	}
	if serr != nil {
		return fmt.Errorf("bind no port: %w", serr)
	}
	return nil
}
