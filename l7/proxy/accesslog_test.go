package proxy_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer collects log output written from server goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Split(strings.TrimSpace(b.buf.String()), "\n")
}

// TestAccessLogUpstreamFields: a proxied request's access-log line names
// the upstream, the endpoint, the tries and the time spent upstream.
func TestAccessLogUpstreamFields(t *testing.T) {
	b := newBackend(t, named("a"))
	g := startGateway(t, simpleConfig([]string{b.Addr}, "", ""))
	r := get(t, newClient(t), g.URL+"/x")
	if r.Status != 200 {
		t.Fatalf("status %d", r.Status)
	}
	var line map[string]any
	waitFor(t, 5*time.Second, "access log line", func() bool {
		ls := g.Log.lines()
		return len(ls) == 1 && json.Unmarshal([]byte(ls[0]), &line) == nil
	})
	if line["upstream"] != "app" || line["endpoint"] != b.Addr || line["tries"] != 1.0 || line["route"] != "all" {
		t.Errorf("access log line lacks upstream fields: %v", line)
	}
	if ms, ok := line["upstream_ms"].(float64); !ok || ms <= 0 || ms > line["duration_ms"].(float64) {
		t.Errorf("upstream_ms = %v (duration_ms %v)", line["upstream_ms"], line["duration_ms"])
	}
}
