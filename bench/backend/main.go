// Command backend is the origin server every benchmark target proxies to.
//
// It answers GET /64 and GET /4k with a fixed body of 64 and 4096 bytes over
// HTTP/1.1 keep-alive on -addr, and GET /cache/64 and /cache/4k with the
// same bodies marked "Cache-Control: public, max-age=3600" for the caching
// proxies (http1-cache), and, when -tls-addr is set, the same routes
// over TLS (ALPN h2 or http/1.1) so that the "direct" target can serve the
// h2-tls scenario too. For the L4 scenarios it serves, when asked, a TCP
// source on -tcp-source (an endless stream of bytes to every connection)
// and a TCP echo on each address of -tcp-echo (comma separated; several
// ports let proxies spread their upstream connections, see
// bench/README.md). Run it with GOMAXPROCS=1 (bench/run.sh does).
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18080", "host:port of the plain HTTP/1.1 listener")
	tlsAddr := flag.String("tls-addr", "", "host:port of the TLS listener (empty: none)")
	cert := flag.String("cert", "", "PEM certificate for -tls-addr")
	key := flag.String("key", "", "PEM private key for -tls-addr")
	source := flag.String("tcp-source", "", "host:port of the TCP source (empty: none)")
	echo := flag.String("tcp-echo", "", "host:port list of TCP echo listeners, comma separated (empty: none)")
	flag.Parse()
	tcp, err := listenL4(*source, *echo)
	if err != nil {
		log.Fatalf("backend: %v", err)
	}
	if err := run(*addr, *tlsAddr, *cert, *key, tcp); err != nil {
		log.Fatalf("backend: %v", err)
	}
}

// listenL4 opens the TCP source and echo listeners.
func listenL4(source, echoes string) ([]*tcpServer, error) {
	src, err := listenTCP(source, newSource())
	if err != nil {
		return nil, err
	}
	ech, err := listenTCP(echoes, echo)
	if err != nil {
		for _, s := range src {
			s.ln.Close()
		}
		return nil, err
	}
	return append(src, ech...), nil
}

// run serves HTTP and the TCP servers until SIGTERM or SIGINT, or until a
// listener fails.
func run(addr, tlsAddr, cert, key string, tcp []*tcpServer) error {
	errc := make(chan error, 2+len(tcp))
	for _, s := range tcp {
		go func() { errc <- s.serve() }()
		defer s.ln.Close()
	}
	plain := newServer()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	go func() { errc <- plain.Serve(ln) }()
	secure := newServer()
	if tlsAddr != "" {
		tln, err := net.Listen("tcp", tlsAddr)
		if err != nil {
			return fmt.Errorf("listen %s: %w", tlsAddr, err)
		}
		go func() { errc <- secure.ServeTLS(tln, cert, key) }()
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case <-sig:
		plain.Close()
		secure.Close()
		return nil
	case err := <-errc:
		if err == nil || errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("serve: %w", err)
	}
}

// newServer returns a server with no timeouts that would cut keep-alive
// connections during a run, and no logging of client errors.
func newServer() *http.Server {
	return &http.Server{
		Handler:           newHandler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       5 * time.Minute,
		ErrorLog:          log.New(discard{}, "", 0),
	}
}

// cacheControl marks the /cache/ answers fresh for an hour in any cache.
const cacheControl = "public, max-age=3600"

// newHandler serves the fixed bodies; anything else is 404.
func newHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /64", fixed(64, ""))
	mux.Handle("GET /4k", fixed(4096, ""))
	mux.Handle("GET /cache/64", fixed(64, cacheControl))
	mux.Handle("GET /cache/4k", fixed(4096, cacheControl))
	return mux
}

// fixed answers with n bytes of 'x' and an explicit Content-Length, so that
// no response is chunked whatever the proxy in front, and with a
// Cache-Control header when cc is not empty.
func fixed(n int, cc string) http.Handler {
	body := bytes.Repeat([]byte{'x'}, n)
	length := strconv.Itoa(n)
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h["Content-Type"] = []string{"text/plain"}
		h["Content-Length"] = []string{length}
		if cc != "" {
			h["Cache-Control"] = []string{cc}
		}
		w.Write(body)
	})
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
