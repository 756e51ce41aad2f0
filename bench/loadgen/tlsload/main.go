// Command tlsload measures full TLS 1.3 handshakes for the bench harness
// (scenario tls-handshakes, see bench/README.md).
//
//	tlsload [-c 16] [-d 10s] [-path /64] [-size 64] [-sources 0] [-ca cert.pem] [-cpuprofile f] host:port
//
// Each of -c loops repeats, for -d: TCP connect, a full TLS 1.3 handshake
// offering X25519 only and no session cache (so nothing can be resumed; a
// resumed session would count as an error), GET -path over HTTP/1.1 with
// "Connection: close", the whole response read (status 200 and -size bytes
// of body, else an error), close. It prints one line (see
// bench/loadgen/loadstat): hps, the handshakes completed per second, and
// the latency of the whole sequence.
//
// The certificate is not verified unless -ca is given (the harness checks
// it once before the load; verifying it every time would only add client
// CPU on the shared load core). With -sources N the loops connect from N
// local addresses 127.0.1.1, 127.0.1.2, ..., for rates near the cap that
// TIME_WAIT ports put on one address pair (about 14k connections/s on
// loopback); handshakes here run far below it, and binding a source address
// costs client CPU, so the default is the kernel's choice.
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"time"

	"github.com/bouncer-proxy/bouncer/bench/loadgen/loadstat"
)

func main() { os.Exit(cmd()) }

// cmd runs the command and returns its exit code.
func cmd() int {
	var o options
	flag.IntVar(&o.loops, "c", 16, "concurrent loops")
	flag.DurationVar(&o.duration, "d", 10*time.Second, "measured duration")
	flag.StringVar(&o.path, "path", "/64", "path of the GET")
	flag.IntVar(&o.size, "size", 64, "expected body size")
	flag.IntVar(&o.sources, "sources", 0, "local addresses 127.0.1.x to connect from (0: the kernel's choice)")
	ca := flag.String("ca", "", "PEM certificate to verify the server with (default: no verification)")
	prof := flag.String("cpuprofile", "", "write a CPU profile of the run to this file")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: tlsload [flags] host:port")
		return 2
	}
	o.addr = flag.Arg(0)
	if *prof != "" {
		stop, err := startProfile(*prof)
		if err != nil {
			fmt.Fprintf(os.Stderr, "tlsload: %v\n", err)
			return 1
		}
		defer stop()
	}
	s, err := run(context.Background(), o, *ca)
	if err != nil {
		fmt.Fprintf(os.Stderr, "tlsload: %v\n", err)
		return 1
	}
	fmt.Println(s.Line())
	if s.FirstErr != nil {
		fmt.Fprintf(os.Stderr, "tlsload: first error: %v\n", s.FirstErr)
	}
	return 0
}

// startProfile starts a CPU profile written to path; stop ends it.
func startProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// options are the flags of a run.
type options struct {
	addr     string
	loops    int
	duration time.Duration
	path     string
	size     int
	sources  int
}

// run drives the loops and returns their summary.
func run(ctx context.Context, o options, caFile string) (loadstat.Summary, error) {
	if o.loops < 1 || o.duration <= 0 {
		return loadstat.Summary{}, fmt.Errorf("need -c >= 1 and -d > 0")
	}
	cfg, err := clientConfig(o.addr, caFile)
	if err != nil {
		return loadstat.Summary{}, err
	}
	c := &client{opt: o, cfg: cfg, req: fmt.Appendf(nil,
		"GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: tlsload\r\nConnection: close\r\n\r\n", o.path, o.addr)}
	c.resumed = make([]int64, o.loops)
	recs := loadstat.Drive(ctx, o.loops, o.duration, c.once)
	s := loadstat.Merge("hps", o.duration, recs)
	var resumed int64
	for _, n := range c.resumed {
		resumed += n
	}
	s.Extra = []loadstat.Counter{{Name: "resumed", Value: resumed}}
	return s, nil
}

// clientConfig is TLS 1.3 only, X25519 only, no session cache; it verifies
// the server against caFile when one is given.
func clientConfig(addr, caFile string) (*tls.Config, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("address %q: %w", addr, err)
	}
	cfg := &tls.Config{
		ServerName:         host, // an IP address: verified against the IP SANs, no SNI sent
		MinVersion:         tls.VersionTLS13,
		MaxVersion:         tls.VersionTLS13,
		CurvePreferences:   []tls.CurveID{tls.X25519},
		NextProtos:         []string{"http/1.1"},
		ClientSessionCache: nil,
		InsecureSkipVerify: caFile == "",
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("read ca: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca %s: no certificate", caFile)
		}
	}
	return cfg, nil
}

// client is what the loops share; resumed has one counter per loop.
type client struct {
	opt     options
	cfg     *tls.Config
	req     []byte
	resumed []int64
}

var errResumed = errors.New("tls session resumed")

// once is one loop iteration: connect, handshake, GET, read, close.
func (c *client) once(ctx context.Context, loop int) error {
	d := net.Dialer{Timeout: 10 * time.Second}
	if c.opt.sources > 0 {
		d.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 1, byte(1+loop%c.opt.sources))}
	}
	raw, err := d.DialContext(ctx, "tcp", c.opt.addr)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	if dl, ok := ctx.Deadline(); ok {
		raw.SetDeadline(dl)
	}
	conn := tls.Client(raw, c.cfg)
	defer conn.Close() // sends close_notify, like any Go client
	if err := conn.HandshakeContext(ctx); err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	st := conn.ConnectionState()
	if st.DidResume {
		c.resumed[loop]++
		return errResumed
	}
	if st.Version != tls.VersionTLS13 || st.CurveID != tls.X25519 {
		return fmt.Errorf("negotiated version %x, group %v", st.Version, st.CurveID)
	}
	if _, err := conn.Write(c.req); err != nil {
		return fmt.Errorf("write request: %w", err)
	}
	return readResponse(conn, c.opt.size)
}

// readResponse reads one HTTP/1.1 response and checks status 200 and the
// body size.
func readResponse(r io.Reader, size int) error {
	resp, err := http.ReadResponse(bufio.NewReaderSize(r, 4096), nil)
	if err != nil {
		return fmt.Errorf("read response: %w", err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	switch {
	case err != nil:
		return fmt.Errorf("read body: %w", err)
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("status %d", resp.StatusCode)
	case n != int64(size):
		return fmt.Errorf("body %d bytes, want %d", n, size)
	}
	return nil
}
