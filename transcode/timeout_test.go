package transcode

import (
	"testing"
	"time"
)

// grpc-timeout values round-trip, at most 8 digits, rounded up; bad ones
// are refused.
func TestGRPCTimeout(t *testing.T) {
	for _, d := range []time.Duration{time.Nanosecond, 1500 * time.Microsecond, 10 * time.Second, 3 * time.Hour} {
		s := encodeTimeout(d)
		got, ok := decodeTimeout(s)
		if !ok || got < d || len(s) > 9 {
			t.Errorf("%v -> %q -> %v, %v", d, s, got, ok)
		}
	}
	for _, bad := range []string{"", "5", "12x", "-1S", "+1S", " 1S", "123456789S", "mS"} {
		if _, ok := decodeTimeout(bad); ok {
			t.Errorf("%q accepted", bad)
		}
	}
}

// A grpc-timeout past time.Duration's range is no bound at all (and
// written back within range), never a negative duration.
func TestGRPCTimeoutOverflow(t *testing.T) {
	for _, v := range []string{"99999999H", "99999999M", "9999999S"} {
		d, ok := decodeTimeout(v)
		if !ok || d <= 0 {
			t.Errorf("%q -> %v, %v", v, d, ok)
		}
	}
	if d, _ := decodeTimeout("99999999H"); d != noTimeout {
		t.Errorf("99999999H -> %v, want the largest duration", d)
	}
	if s := encodeTimeout(noTimeout); s[0] == '-' || len(s) > 9 {
		t.Errorf("the largest duration is written %q", s)
	}
}
