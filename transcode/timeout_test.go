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
	for _, bad := range []string{"", "5", "12x", "-1S", "123456789S", "mS"} {
		if _, ok := decodeTimeout(bad); ok {
			t.Errorf("%q accepted", bad)
		}
	}
}
