package h3

import (
	"io"
	"net/http"
	"testing"
	"time"
)

func TestRetryGate(t *testing.T) {
	base := time.Unix(1_700_000_000, 0)
	for _, tc := range []struct {
		name  string
		limit int
		at    []time.Duration // attempt times after base
		want  []bool          // whether each must do a Retry
	}{
		{"below the limit", 3, []time.Duration{0, 1, 2}, []bool{false, false, false}},
		{"above the limit", 1, []time.Duration{0, 1, 2}, []bool{false, true, true}},
		{"a new second starts over", 1, []time.Duration{0, 1, time.Second, time.Second + 1}, []bool{false, true, false, true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var now time.Time
			g := newRetryGate(tc.limit, func() time.Time { return now })
			retries := 0
			for i, d := range tc.at {
				now = base.Add(d)
				if got := g.verify(nil); got != tc.want[i] {
					t.Fatalf("attempt %d: retry %v, want %v", i, got, tc.want[i])
				}
				if tc.want[i] {
					retries++
				}
			}
			if got := g.retries.Load(); got != uint64(retries) {
				t.Errorf("retries counted %d, want %d", got, retries)
			}
		})
	}
}

// TestRetryOnTheWire: with RetryAbove 1, the first connection of a second
// handshakes directly and the second one receives a Retry packet (seen
// by a relay between client and server) and still gets its answer.
func TestRetryOnTheWire(t *testing.T) {
	f := prepare(t, Options{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}), RetryAbove: 1}, listenUDP(t), nil, true)
	fixed := time.Now()
	f.srv.gate.now = func() time.Time { return fixed } // both attempts fall in one second
	f.serve(t)
	rl := newRelay(t, f.addr)
	for i, wantRetry := range []bool{false, true} {
		_, cc := f.dial(t, rl.Addr(), f.clientTLS(), false)
		req, _ := http.NewRequest(http.MethodGet, f.url("/"), nil)
		resp, err := cc.RoundTrip(req)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "ok" {
			t.Fatalf("connection %d: body %q", i, body)
		}
		// A ClientHello can span two Initial packets, and each one without
		// a token gets its own Retry: count packets, not connections.
		seen := rl.retries.Load()
		if (seen > 0) != wantRetry {
			t.Fatalf("after connection %d: %d Retry packets on the wire, want Retry %v", i, seen, wantRetry)
		}
		if got := f.srv.Retries(); got != uint64(seen) {
			t.Fatalf("after connection %d: Retries() = %d, %d on the wire", i, got, seen)
		}
	}
}
