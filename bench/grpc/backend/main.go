// Command backend serves the library sample (transcode/sample, the same
// service Bouncer's embedded default config starts) over gRPC on h2c, with
// server reflection, until SIGINT or SIGTERM. It is the one backend of
// bench/grpc: every target forwards to it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/bouncer-proxy/bouncer/transcode/sample"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18200", "gRPC (h2c) listen address")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	got, shutdown, err := sample.Start(*addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "backend:", err)
		os.Exit(1)
	}
	fmt.Fprintln(os.Stderr, "backend: library sample on", got)
	<-ctx.Done()
	shutdown()
}
