package h2

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

var update = flag.Bool("update", false, "rewrite the fuzz seeds in testdata/fuzz/FuzzServeConn")

// FuzzServeConn feeds the bytes after the client preface to a server
// connection whose handler echoes; the server must not panic, and the
// connection and its handlers must end once the client hangs up.
func FuzzServeConn(f *testing.F) {
	var handlers atomic.Int64
	ended := make(chan struct{}, 1) // a handler ended
	srv := &Server{
		MaxConcurrentStreams: 8,
		MaxHeaderBytes:       4096,
		Logger:               slog.New(slog.NewTextHandler(io.Discard, nil)),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			handlers.Add(1)
			defer func() {
				handlers.Add(-1)
				select {
				case ended <- struct{}{}:
				default:
				}
			}()
			w.Header().Set("Trailer", "X-Echoed")
			n, _ := io.Copy(w, r.Body)
			w.Header().Set("X-Echoed", fmt.Sprint(n))
		}),
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		client, server := net.Pipe()
		served := make(chan struct{})
		go func() {
			defer close(served)
			srv.ServeConn(server)
		}()
		go func() { _, _ = io.Copy(io.Discard, client) }()
		_ = client.SetWriteDeadline(time.Now().Add(2 * time.Second))
		_, _ = client.Write(append([]byte(http2.ClientPreface), data...))
		_ = client.Close()
		select {
		case <-served:
		case <-time.After(5 * time.Second):
			t.Fatal("ServeConn did not return after the client closed")
		}
		deadline := time.After(5 * time.Second)
		for handlers.Load() != 0 {
			select {
			case <-ended:
			case <-deadline:
				t.Fatalf("%d handlers still running after their connection ended", handlers.Load())
			}
		}
	})
}

// fuzzSeeds are the seed inputs: frames after the client preface.
func fuzzSeeds() map[string][]byte {
	return map[string][]byte{
		"get":                 seed(func(s *seedWriter) { s.fr.WriteSettings(); s.headers(1, true, true, 0, getFields...) }),
		"post-body-trailers":  seed(postWithTrailers),
		"continuation":        seed(continuation),
		"padding":             seed(padded),
		"settings-ping-mixes": seed(controlMix),
		"two-streams-reset":   seed(twoStreamsReset),
	}
}

var getFields = []string{":method", "GET", ":scheme", "http", ":authority", "a.test", ":path", "/x?y=1"}

type seedWriter struct {
	buf  bytes.Buffer
	fr   *http2.Framer
	hbuf bytes.Buffer
	enc  *hpack.Encoder
}

func seed(fn func(s *seedWriter)) []byte {
	s := &seedWriter{}
	s.fr = http2.NewFramer(&s.buf, nil)
	s.fr.AllowIllegalWrites = true
	s.enc = hpack.NewEncoder(&s.hbuf)
	fn(s)
	return s.buf.Bytes()
}

func (s *seedWriter) block(kv ...string) []byte {
	s.hbuf.Reset()
	for i := 0; i+1 < len(kv); i += 2 {
		_ = s.enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	return append([]byte(nil), s.hbuf.Bytes()...)
}

func (s *seedWriter) headers(id uint32, endStream, endHeaders bool, pad uint8, kv ...string) {
	_ = s.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: s.block(kv...),
		EndStream: endStream, EndHeaders: endHeaders, PadLength: pad})
}

func postWithTrailers(s *seedWriter) {
	_ = s.fr.WriteSettings()
	s.headers(1, false, true, 0, ":method", "POST", ":scheme", "http", ":authority", "a.test", ":path", "/echo",
		"content-length", "11", "trailer", "x-sum", "expect", "100-continue")
	_ = s.fr.WriteData(1, false, []byte("hello "))
	_ = s.fr.WriteData(1, false, []byte("world"))
	s.headers(1, true, true, 0, "x-sum", "11")
}

func continuation(s *seedWriter) {
	_ = s.fr.WriteSettings()
	b := s.block(append(getFields, "x-long", string(bytes.Repeat([]byte("v"), 300)), "cookie", "a=1", "cookie", "b=2")...)
	_ = s.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: b[:10], EndStream: true})
	_ = s.fr.WriteContinuation(1, false, b[10:100])
	_ = s.fr.WriteContinuation(1, true, b[100:])
}

func padded(s *seedWriter) {
	_ = s.fr.WriteSettings()
	s.headers(1, false, true, 17, ":method", "PUT", ":scheme", "http", ":authority", "a.test", ":path", "/p")
	_ = s.fr.WriteDataPadded(1, false, []byte("padded body"), make([]byte, 40))
	_ = s.fr.WriteDataPadded(1, true, nil, make([]byte, 255))
}

func controlMix(s *seedWriter) {
	_ = s.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 10},
		http2.Setting{ID: http2.SettingMaxFrameSize, Val: 32768}, http2.Setting{ID: http2.SettingHeaderTableSize, Val: 0})
	_ = s.fr.WritePing(false, [8]byte{1, 2, 3})
	_ = s.fr.WriteWindowUpdate(0, 1000)
	s.headers(1, false, true, 0, ":method", "POST", ":scheme", "http", ":authority", "a.test", ":path", "/")
	_ = s.fr.WriteData(1, true, bytes.Repeat([]byte("d"), 100))
	_ = s.fr.WriteWindowUpdate(1, 100)
	_ = s.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 65535})
	_ = s.fr.WriteSettingsAck()
	_ = s.fr.WritePing(true, [8]byte{})
	_ = s.fr.WritePriority(3, http2.PriorityParam{StreamDep: 1, Weight: 7})
	_ = s.fr.WriteGoAway(0, http2.ErrCodeNo, nil)
}

func twoStreamsReset(s *seedWriter) {
	_ = s.fr.WriteSettings()
	s.headers(1, false, true, 0, ":method", "POST", ":scheme", "http", ":authority", "a.test", ":path", "/1")
	s.headers(3, true, true, 0, getFields...)
	_ = s.fr.WriteData(1, false, []byte("part"))
	_ = s.fr.WriteRSTStream(1, http2.ErrCodeCancel)
	_ = s.fr.WriteData(1, true, []byte("late"))
	s.headers(5, true, true, 0, ":method", "GET", ":scheme", "http", ":path", "/", "connection", "close")
}

// TestFuzzSeeds keeps testdata/fuzz/FuzzServeConn in step with
// fuzzSeeds; -update rewrites it.
func TestFuzzSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzServeConn")
	for name, data := range fuzzSeeds() {
		want := fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", data)
		path := filepath.Join(dir, name)
		if *update {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("seed %s is missing or stale (go test -run TestFuzzSeeds -update): %v", name, err)
		}
	}
}
