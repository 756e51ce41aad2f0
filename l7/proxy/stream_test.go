package proxy_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestRequestBodyStreams checks that the upstream reads the first part of
// a request body before the client has written the rest: nothing buffers
// the whole body on the way.
func TestRequestBodyStreams(t *testing.T) {
	gotFirst := make(chan string, 1)
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		first := make([]byte, len("first-part|"))
		if _, err := io.ReadFull(r.Body, first); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		gotFirst <- string(first)
		rest, _ := io.ReadAll(r.Body)
		_, _ = io.WriteString(w, string(first)+string(rest))
	})
	g := startGateway(t, simpleConfig([]string{b.Addr}, "", ""))
	for _, client := range []struct {
		name string
		c    *http.Client
	}{{"http1", newClient(t)}, {"h2c", newH2CClient(t)}} {
		t.Run(client.name, func(t *testing.T) {
			pr, pw := io.Pipe()
			defer pw.Close()
			done := make(chan result, 1)
			go func() {
				req, _ := http.NewRequest(http.MethodPost, g.URL+"/upload", pr)
				res, err := client.c.Do(req)
				if err != nil {
					done <- result{Status: -1, Body: err.Error()}
					return
				}
				body, _ := io.ReadAll(res.Body)
				_ = res.Body.Close()
				done <- result{Status: res.StatusCode, Body: string(body)}
			}()
			if _, err := io.WriteString(pw, "first-part|"); err != nil {
				t.Fatal(err)
			}
			if got := recv(t, gotFirst, 5*time.Second, "the backend to read the first part"); got != "first-part|" {
				t.Fatalf("backend read %q", got)
			}
			_, _ = io.WriteString(pw, "second-part")
			_ = pw.Close()
			r := recv(t, done, 5*time.Second, "the response")
			if r.Status != 200 || r.Body != "first-part|second-part" {
				t.Errorf("got %d %q", r.Status, r.Body)
			}
		})
	}
}

// TestServerSentEvents checks that each event reaches the client while
// the upstream is still blocked before the next one.
func TestServerSentEvents(t *testing.T) {
	for _, client := range []struct {
		name string
		c    *http.Client
	}{{"http1", newClient(t)}, {"h2c", newH2CClient(t)}} {
		t.Run(client.name, func(t *testing.T) {
			release := make(chan struct{})
			b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				w.Header().Set("Content-Length", "40") // even a known length must not hold events back
				_, _ = io.WriteString(w, "data: one\n\n")
				http.NewResponseController(w).Flush()
				select {
				case <-release:
				case <-r.Context().Done():
					return
				}
				_, _ = io.WriteString(w, "data: two\n\n"+strings.Repeat(":", 17)+"\n")
			})
			g := startGateway(t, simpleConfig([]string{b.Addr}, "", ""))
			var once sync.Once
			unblock := func() { once.Do(func() { close(release) }) }
			defer unblock()
			res, err := client.c.Get(g.URL + "/events")
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			events := make(chan string, 2)
			go func() {
				defer close(events)
				br := bufio.NewReader(res.Body)
				for {
					ev, err := readEvent(br)
					if err != nil {
						return
					}
					events <- ev
				}
			}()
			if ev := recv(t, events, 5*time.Second, "the first event while the upstream blocks"); ev != "data: one" {
				t.Fatalf("first event %q", ev)
			}
			unblock()
			if ev := recv(t, events, 5*time.Second, "the second event"); ev != "data: two" {
				t.Fatalf("second event %q", ev)
			}
		})
	}
}

// readEvent reads lines up to a blank line and returns them joined.
func readEvent(br *bufio.Reader) (string, error) {
	var lines []string
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return "", err
		}
		line = strings.TrimRight(line, "\n")
		if line == "" {
			return strings.Join(lines, "\n"), nil
		}
		lines = append(lines, line)
	}
}

// TestTrailers checks that chunked trailers from an HTTP/1.1 upstream,
// declared and undeclared, reach HTTP/1.1 and h2c clients.
func TestTrailers(t *testing.T) {
	tests := []struct {
		name     string
		declared bool
	}{{"declared in Trailer", true}, {"undeclared", false}}
	for _, tc := range tests {
		b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
			if tc.declared {
				w.Header().Set("Trailer", "X-Checksum")
			}
			_, _ = io.WriteString(w, "body")
			http.NewResponseController(w).Flush() // chunked
			if tc.declared {
				w.Header().Set("X-Checksum", "abc123")
			} else {
				w.Header().Set(http.TrailerPrefix+"X-Checksum", "abc123")
			}
		})
		g := startGateway(t, simpleConfig([]string{b.Addr}, "", ""))
		for _, client := range []struct {
			name string
			c    *http.Client
		}{{"http1", newClient(t)}, {"h2c", newH2CClient(t)}} {
			t.Run(tc.name+"/"+client.name, func(t *testing.T) {
				r := get(t, client.c, g.URL+"/")
				if r.Status != 200 || r.Body != "body" {
					t.Fatalf("got %d %q", r.Status, r.Body)
				}
				if got := r.Trailer.Get("X-Checksum"); got != "abc123" {
					t.Errorf("trailer X-Checksum = %q (trailers %v), want abc123", got, r.Trailer)
				}
				if _, ok := r.Header["X-Checksum"]; ok {
					t.Error("trailer leaked into the header")
				}
			})
		}
	}
}

// TestExpectContinue checks that a client waiting for 100 Continue gets
// it once the upstream wants the body, and that the body arrives; and
// that an upstream answering without reading spares the client the body.
func TestExpectContinue(t *testing.T) {
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/deny" {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		echoBody(w, r)
	})
	g := startGateway(t, simpleConfig([]string{b.Addr}, "", ""))
	tr := &http.Transport{ExpectContinueTimeout: 5 * time.Second}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	tests := []struct {
		path    string
		want    int
		body    string
		want100 bool
	}{
		{"/echo", 200, "hello body", true},
		{"/deny", 403, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			var got100 bool
			trace := &httptrace.ClientTrace{Got100Continue: func() { got100 = true }}
			req := newRequest(t, http.MethodPut, g.URL+tc.path, strings.NewReader("hello body"))
			req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
			req.Header.Set("Expect", "100-continue")
			start := time.Now()
			r := do(t, c, req)
			if r.Status != tc.want || r.Body != tc.body {
				t.Errorf("got %d %q, want %d %q", r.Status, r.Body, tc.want, tc.body)
			}
			if got100 != tc.want100 {
				t.Errorf("100 Continue received = %v, want %v", got100, tc.want100)
			}
			if d := time.Since(start); d > 4*time.Second {
				t.Errorf("took %v: the client waited out its continue timeout", d)
			}
		})
	}
}

// TestClientCancelPropagates checks that the upstream request's context
// ends when the client goes away mid-request.
func TestClientCancelPropagates(t *testing.T) {
	entered := make(chan struct{}, 1)
	cancelled := make(chan struct{}, 1)
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		select {
		case <-r.Context().Done():
			cancelled <- struct{}{}
		case <-time.After(10 * time.Second):
		}
	})
	g := startGateway(t, simpleConfig([]string{b.Addr}, "", ""))
	for _, client := range []struct {
		name string
		c    *http.Client
	}{{"http1", newClient(t)}, {"h2c", newH2CClient(t)}} {
		t.Run(client.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			errc := make(chan error, 1)
			go func() {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, g.URL+"/wait", nil)
				res, err := client.c.Do(req)
				if err == nil {
					_ = res.Body.Close()
				}
				errc <- err
			}()
			recv(t, entered, 5*time.Second, "the request to reach the backend")
			cancel()
			recv(t, cancelled, 5*time.Second, "the backend to see its request cancelled")
			if err := recv(t, errc, 5*time.Second, "the client to return"); err == nil {
				t.Error("client request succeeded after cancel")
			}
		})
	}
}
