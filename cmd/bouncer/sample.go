package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"
)

// sampleBackend is the built-in sample service that the embedded default
// config proxies to, so Bouncer can be tried with no service of one's own.
// It is labelled as such in every answer and is not for production.
type sampleBackend struct {
	addr string
	srv  *http.Server

	grpcAddr string // the sample gRPC service (transcode/sample), when started
	stopGRPC func()
	echo     []net.Listener // sample TCP echo services
}

// startEcho starts the sample TCP echo services: each answers every line
// with "echo <n> (<addr>): <line>", so that balancing shows.
func (s *sampleBackend) startEcho(addrs []string) error {
	for i, a := range addrs {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			return fmt.Errorf("sample tcp echo: %w", err)
		}
		s.echo = append(s.echo, ln)
		name := fmt.Sprintf("echo %d (%s)", i+1, ln.Addr())
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go echoLines(c, name)
			}
		}()
	}
	return nil
}

// echoLines answers each line (at most 4 KiB) until the client is done or
// a minute passes in silence.
func echoLines(c net.Conn, name string) {
	defer c.Close()
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 4096), 4096)
	for {
		_ = c.SetReadDeadline(time.Now().Add(time.Minute))
		if !sc.Scan() {
			return
		}
		if _, err := fmt.Fprintf(c, "%s: %s\n", name, sc.Text()); err != nil {
			return
		}
	}
}

func startSample(addr string, log *slog.Logger) (*sampleBackend, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("sample backend: %w", err)
	}
	host, _ := os.Hostname()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		sampleJSON(w, map[string]any{
			"message": "hello from the bouncer sample backend", "backend": "bouncer built-in sample (not for production)",
			"host": host, "method": r.Method, "path": r.URL.Path, "request_id": r.Header.Get("X-Request-Id"),
			"x_forwarded_for": r.Header.Get("X-Forwarded-For"), "forwarded": r.Header.Get("Forwarded"),
		})
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", r.Header.Get("Content-Type"))
		_, _ = io.Copy(w, http.MaxBytesReader(w, r.Body, 1<<20))
	})
	mux.HandleFunc("GET /headers", func(w http.ResponseWriter, r *http.Request) { sampleJSON(w, r.Header) })
	mux.HandleFunc("GET /status/{code}", func(w http.ResponseWriter, r *http.Request) {
		code, err := strconv.Atoi(r.PathValue("code"))
		if err != nil || code < 200 || code > 599 {
			http.Error(w, "status must be 200..599", http.StatusBadRequest)
			return
		}
		w.WriteHeader(code)
	})
	mux.HandleFunc("GET /sse", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for i := 1; i <= 5; i++ {
			fmt.Fprintf(w, "id: %d\ndata: tick %d from the bouncer sample backend\n\n", i, i)
			if rc.Flush() != nil {
				return
			}
			select {
			case <-t.C:
			case <-r.Context().Done():
				return
			}
		}
	})
	s := &sampleBackend{addr: ln.Addr().String(), srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}}
	go func() {
		if err := s.srv.Serve(ln); err != nil && err != http.ErrServerClosed {
			log.Error("sample backend stopped", "error", err.Error())
		}
	}()
	return s, nil
}

func sampleJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Sample-Backend", "bouncer built-in sample")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func (s *sampleBackend) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
	if s.stopGRPC != nil {
		s.stopGRPC()
	}
	for _, ln := range s.echo {
		_ = ln.Close()
	}
}
