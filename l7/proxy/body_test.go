package proxy_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// TestLargeBodies sends and receives several MiB through the gateway over
// each client protocol and compares digests.
func TestLargeBodies(t *testing.T) {
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, _ := io.Copy(h, r.Body)
		w.Header().Set("X-Got-Sha", hex.EncodeToString(h.Sum(nil)))
		w.Header().Set("X-Got-Len", strconv.FormatInt(n, 10))
		size, _ := strconv.Atoi(r.URL.Query().Get("size"))
		_, _ = w.Write(pattern(size))
	})
	g := startGateway(t, simpleConfig([]string{b.Addr}, "", ""))
	const size = 3<<20 + 17
	up := pattern(size)
	sum := sha256.Sum256(up)
	for _, client := range []struct {
		name string
		c    *http.Client
	}{{"http1", newClient(t)}, {"h2c", newH2CClient(t)}} {
		t.Run(client.name, func(t *testing.T) {
			r := do(t, client.c, newRequest(t, http.MethodPut, g.URL+"/?size="+strconv.Itoa(size), bytes.NewReader(up)))
			if r.Header.Get("X-Got-Len") != strconv.Itoa(size) || r.Header.Get("X-Got-Sha") != hex.EncodeToString(sum[:]) {
				t.Errorf("upstream got %s bytes, sha %s", r.Header.Get("X-Got-Len"), r.Header.Get("X-Got-Sha"))
			}
			if !bytes.Equal([]byte(r.Body), up) {
				t.Errorf("client got %d bytes back, want the %d sent", len(r.Body), size)
			}
		})
	}
}

// pattern returns n deterministic, incompressible-enough bytes.
func pattern(n int) []byte {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// TestEncodedAndHeadResponses checks that a compressed body passes through
// untouched and that HEAD keeps the upstream's Content-Length.
func TestEncodedAndHeadResponses(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(bytes.Repeat([]byte("compress me "), 100))
	_ = zw.Close()
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", strconv.Itoa(gz.Len()))
		if r.Method != http.MethodHead {
			_, _ = w.Write(gz.Bytes())
		}
	})
	g := startGateway(t, simpleConfig([]string{b.Addr}, "", ""))
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}

	req := newRequest(t, http.MethodGet, g.URL+"/", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	r := do(t, c, req)
	if r.Header.Get("Content-Encoding") != "gzip" || !bytes.Equal([]byte(r.Body), gz.Bytes()) {
		t.Errorf("encoded body changed: encoding %q, %d bytes (want %d)", r.Header.Get("Content-Encoding"), len(r.Body), gz.Len())
	}
	r = do(t, c, newRequest(t, http.MethodHead, g.URL+"/", nil))
	if r.Status != 200 || r.Body != "" || r.Header.Get("Content-Length") != strconv.Itoa(gz.Len()) {
		t.Errorf("HEAD = %d %q Content-Length %q, want 200, no body, %d", r.Status, r.Body, r.Header.Get("Content-Length"), gz.Len())
	}
}

// TestClientLeavesMidStream checks that a client closing during a
// streamed response ends the upstream request too.
func TestClientLeavesMidStream(t *testing.T) {
	cancelled := make(chan struct{}, 1)
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			if _, err := io.WriteString(w, "tick\n"); err != nil {
				break
			}
			_ = rc.Flush()
			select {
			case <-r.Context().Done():
				cancelled <- struct{}{}
				return
			case <-tick.C:
			}
		}
		<-r.Context().Done()
		cancelled <- struct{}{}
	})
	g := startGateway(t, simpleConfig([]string{b.Addr}, "", ""))
	for _, client := range []struct {
		name string
		c    *http.Client
	}{{"http1", newClient(t)}, {"h2c", newH2CClient(t)}} {
		t.Run(client.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, g.URL+"/stream", nil)
			res, err := client.c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 5)
			if _, err := io.ReadFull(res.Body, buf); err != nil || string(buf) != "tick\n" {
				t.Fatalf("first chunk %q, %v", buf, err)
			}
			cancel()
			_ = res.Body.Close()
			recv(t, cancelled, 5*time.Second, "the upstream request to end after the client left")
		})
	}
}
