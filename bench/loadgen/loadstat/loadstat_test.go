package loadstat

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestMergeQuantiles(t *testing.T) {
	a, b := &Recorder{}, &Recorder{}
	for i := 1; i <= 100; i++ {
		r := a
		if i%2 == 0 {
			r = b
		}
		r.OK(time.Duration(i) * time.Millisecond)
	}
	first := errors.New("first")
	b.Fail(first)
	b.Fail(errors.New("second"))
	s := Merge("rps", 10*time.Second, []*Recorder{a, b})
	if s.OK != 100 || s.Errors != 2 || s.FirstErr != first {
		t.Fatalf("merged %d ok, %d errors, first %v", s.OK, s.Errors, s.FirstErr)
	}
	tests := []struct {
		q    float64
		want time.Duration
	}{
		{0, 1 * time.Millisecond},
		{0.5, 50 * time.Millisecond},
		{0.9, 90 * time.Millisecond},
		{0.99, 99 * time.Millisecond},
		{1, 100 * time.Millisecond},
	}
	for _, tc := range tests {
		if got := s.Quantile(tc.q); got != tc.want {
			t.Errorf("quantile %v = %v, want %v", tc.q, got, tc.want)
		}
	}
	if got := s.Mean(); got != 50500*time.Microsecond {
		t.Errorf("mean %v", got)
	}
}

func TestLine(t *testing.T) {
	r := &Recorder{}
	r.OK(2 * time.Millisecond)
	r.OK(4 * time.Millisecond)
	s := Merge("hps", 2*time.Second, []*Recorder{r})
	s.Extra = []Counter{{"resumed", 0}}
	want := "hps=1.0 requests=2 errors=0 resumed=0 mean_ms=3.000 p50_ms=2.000 p90_ms=4.000 p99_ms=4.000 max_ms=4.000"
	if got := s.Line(); got != want {
		t.Errorf("line\n%s\nwant\n%s", got, want)
	}
	s.Rate, s.Extra, s.PerOp = "gbps", nil, 1e-3
	want = "gbps=0.0010 requests=2 errors=0 mean_ms=3.000 p50_ms=2.000 p90_ms=4.000 p99_ms=4.000 max_ms=4.000"
	if got := s.Line(); got != want {
		t.Errorf("line with PerOp\n%s\nwant\n%s", got, want)
	}
	empty := Merge("rps", time.Second, nil)
	if got := empty.Line(); got != "rps=0.0 requests=0 errors=0 mean_ms=0.000 p50_ms=0.000 p90_ms=0.000 p99_ms=0.000 max_ms=0.000" {
		t.Errorf("empty line %s", got)
	}
}

func TestDrive(t *testing.T) {
	var calls [3]int
	boom := errors.New("boom")
	recs := Drive(t.Context(), 3, 200*time.Millisecond, func(ctx context.Context, w int) error {
		calls[w]++
		if w == 2 {
			return boom
		}
		if calls[w] > 5 {
			<-ctx.Done() // in flight when the run ends: not counted
			return ctx.Err()
		}
		return nil
	})
	s := Merge("rps", 200*time.Millisecond, recs)
	if s.OK != 10 || s.Errors == 0 || s.FirstErr != boom {
		t.Fatalf("ok %d (want 10), errors %d, first %v", s.OK, s.Errors, s.FirstErr)
	}
}
