// Command h3load loads an HTTP/3 server for the bench harness (scenario h3,
// see bench/README.md), or with -h2 the same server's h2 over TLS, with the
// same client loop, for comparison.
//
//	h3load [-c 4] [-s 16] [-d 10s] [-path /64] [-size 64] [-h2] [-ca cert.pem] host:port
//
// It opens -c connections (quic-go's HTTP/3 client over UDP, or Go's h2
// client over TCP with -h2), each with one request first, unmeasured. Then,
// for -d, -s workers per connection each repeat GET -path and read the whole
// answer (status 200, -size bytes of body and the expected protocol, else an
// error), so each connection carries -s concurrent streams. It prints one
// line (see bench/loadgen/loadstat): rps and the latency of a request.
//
// TLS is 1.3, X25519 only; the certificate is not verified unless -ca is
// given (the harness checks it once before the load).
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/quic-go/quic-go/http3"
	"golang.org/x/net/http2"

	"github.com/bouncer-proxy/bouncer/bench/loadgen/loadstat"
)

func main() {
	var o options
	flag.IntVar(&o.conns, "c", 4, "connections")
	flag.IntVar(&o.streams, "s", 16, "concurrent streams per connection")
	flag.DurationVar(&o.duration, "d", 10*time.Second, "measured duration")
	flag.StringVar(&o.path, "path", "/64", "path of the GET")
	flag.IntVar(&o.size, "size", 64, "expected body size")
	flag.BoolVar(&o.h2, "h2", false, "h2 over TLS (TCP) instead of HTTP/3")
	flag.StringVar(&o.caFile, "ca", "", "PEM certificate to verify the server with (default: no verification)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: h3load [flags] host:port")
		os.Exit(2)
	}
	o.addr = flag.Arg(0)
	// quic-go warns when it cannot raise the UDP receive buffer to 7 MB; the
	// bench leaves the host's limits alone, the same for every target.
	os.Setenv("QUIC_GO_DISABLE_RECEIVE_BUFFER_WARNING", "true")
	s, err := run(context.Background(), o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "h3load: %v\n", err)
		os.Exit(1)
	}
	fmt.Println(s.Line())
	if s.FirstErr != nil {
		fmt.Fprintf(os.Stderr, "h3load: first error: %v\n", s.FirstErr)
	}
}

// options are the flags of a run.
type options struct {
	addr, path, caFile string
	conns, streams     int
	size               int
	duration           time.Duration
	h2                 bool
}

// conn is one client connection: a transport that keeps exactly one.
type conn struct {
	rt    http.RoundTripper
	close func()
}

// run opens the connections, drives the workers and returns the summary.
func run(ctx context.Context, o options) (loadstat.Summary, error) {
	if o.conns < 1 || o.streams < 1 || o.duration <= 0 {
		return loadstat.Summary{}, fmt.Errorf("need -c >= 1, -s >= 1 and -d > 0")
	}
	cfg, err := tlsConfig(o.caFile)
	if err != nil {
		return loadstat.Summary{}, err
	}
	url := "https://" + o.addr + o.path
	conns := make([]conn, o.conns)
	for i := range conns {
		conns[i] = newConn(cfg, o.h2)
		defer conns[i].close()
		// The first request opens the connection, outside the measurement.
		if err := get(ctx, conns[i].rt, url, o); err != nil {
			return loadstat.Summary{}, fmt.Errorf("connection %d: %w", i, err)
		}
	}
	recs := loadstat.Drive(ctx, o.conns*o.streams, o.duration, func(ctx context.Context, w int) error {
		return get(ctx, conns[w/o.streams].rt, url, o)
	})
	return loadstat.Merge("rps", o.duration, recs), nil
}

// tlsConfig is TLS 1.3, X25519 only; it verifies against caFile when one is
// given. The transports set the ALPN protocol.
func tlsConfig(caFile string) (*tls.Config, error) {
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS13,
		CurvePreferences:   []tls.CurveID{tls.X25519},
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

// newConn returns a transport of its own, so that it holds one connection
// to the server: an HTTP/3 transport dials one QUIC connection per host,
// and x/net's h2 transport one TCP connection while the server's stream
// limit is not reached.
func newConn(cfg *tls.Config, h2 bool) conn {
	if h2 {
		c := cfg.Clone()
		c.NextProtos = []string{"h2"}
		t := &http2.Transport{TLSClientConfig: c}
		return conn{rt: t, close: t.CloseIdleConnections}
	}
	t := &http3.Transport{TLSClientConfig: cfg.Clone()}
	return conn{rt: t, close: func() { t.Close() }}
}

// get makes one request and checks the answer: status 200, o.size bytes of
// body, HTTP/3 (or HTTP/2 with o.h2).
func get(ctx context.Context, rt http.RoundTripper, url string, o options) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("request: %w", err)
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return fmt.Errorf("get: %w", err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	want := 3
	if o.h2 {
		want = 2
	}
	switch {
	case err != nil:
		return fmt.Errorf("read body: %w", err)
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("status %d", resp.StatusCode)
	case n != int64(o.size):
		return fmt.Errorf("body %d bytes, want %d", n, o.size)
	case resp.ProtoMajor != want:
		return fmt.Errorf("protocol %s, want HTTP/%d", resp.Proto, want)
	}
	return nil
}
