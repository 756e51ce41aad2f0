package ratelimit

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bouncer-proxy/bouncer/internal/testsvc"
)

// step is one request at offset `at` from the start and what it must get.
type step struct {
	at        time.Duration
	allowed   bool
	remaining int64
	retry     time.Duration
	reset     time.Duration
}

type gcraCase struct {
	name  string
	limit Limit
	steps []step
}

// repeat makes n identical allowed steps at `at` counting remaining down.
func repeat(n int64, at, t time.Duration, burst int64) []step {
	var s []step
	for i := int64(1); i <= n; i++ {
		s = append(s, step{at: at, allowed: true, remaining: burst - i, reset: time.Duration(i) * t})
	}
	return s
}

var gcraCases = []gcraCase{
	{
		name:  "burst then steady",
		limit: Limit{Name: "a", Requests: 10, Period: time.Second, Burst: 3},
		steps: []step{
			{0, true, 2, 0, 100 * time.Millisecond},
			{0, true, 1, 0, 200 * time.Millisecond},
			{0, true, 0, 0, 300 * time.Millisecond},
			{0, false, 0, 100 * time.Millisecond, 300 * time.Millisecond},
			{50 * time.Millisecond, false, 0, 50 * time.Millisecond, 250 * time.Millisecond},
			{100 * time.Millisecond, true, 0, 0, 300 * time.Millisecond},
			{150 * time.Millisecond, false, 0, 50 * time.Millisecond, 250 * time.Millisecond},
			{time.Second, true, 2, 0, 100 * time.Millisecond},
		},
	},
	{
		name:  "100 per second burst 50",
		limit: Limit{Name: "b", Requests: 100, Period: time.Second, Burst: 50},
		steps: append(repeat(50, 0, 10*time.Millisecond, 50),
			step{0, false, 0, 10 * time.Millisecond, 500 * time.Millisecond},
			step{10 * time.Millisecond, true, 0, 0, 500 * time.Millisecond},
			step{25 * time.Millisecond, true, 0, 0, 495 * time.Millisecond},
			step{25 * time.Millisecond, false, 0, 5 * time.Millisecond, 495 * time.Millisecond}),
	},
	{
		name:  "10000 per day",
		limit: Limit{Name: "c", Requests: 10000, Period: 24 * time.Hour},
		steps: []step{
			{0, true, 9999, 0, 8640 * time.Millisecond},
			{time.Hour, true, 9999, 0, 8640 * time.Millisecond},
			{time.Hour, true, 9998, 0, 17280 * time.Millisecond},
		},
	},
	{
		name:  "one per minute",
		limit: Limit{Name: "d", Requests: 1, Period: time.Minute},
		steps: []step{
			{0, true, 0, 0, time.Minute},
			{59 * time.Second, false, 0, time.Second, time.Second},
			{time.Minute, true, 0, 0, time.Minute},
		},
	},
}

var epoch = time.Unix(1_700_000_000, 0)

func checkStep(t *testing.T, i int, s step, got Result) {
	t.Helper()
	want := Result{Allowed: s.allowed, Remaining: s.remaining, RetryAfter: s.retry, ResetAfter: s.reset}
	got.lease = 0
	if got != want {
		t.Fatalf("step %d at +%v: got %+v, want %+v", i, s.at, got, want)
	}
}

func TestGCRALocal(t *testing.T) {
	for _, c := range gcraCases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.limit.Validate(); err != nil {
				t.Fatal(err)
			}
			s := NewLocalStore(LocalOptions{})
			for i, st := range c.steps {
				r, err := s.Take(context.Background(), "k", c.limit, epoch.Add(st.at))
				if err != nil {
					t.Fatal(err)
				}
				checkStep(t, i, st, r)
			}
		})
	}
}

// TestGCRARedis runs the same table through the Lua script on a real
// redis-server, with the script's clock replaced by the step's time.
func TestGCRARedis(t *testing.T) {
	c := newRedisClient(t, testsvc.StartRedis(t).Addr)
	for _, gc := range gcraCases {
		t.Run(gc.name, func(t *testing.T) {
			for i, st := range gc.steps {
				now := strconv.FormatInt(epoch.Add(st.at).UnixMicro(), 10)
				rep, err := runTake(context.Background(), c, "gcra:"+gc.name, gc.limit, 1, now)
				if err != nil {
					t.Fatal(err)
				}
				checkStep(t, i, st, rep.result(0))
			}
		})
	}
}

func TestGCRAGrantsUpToWant(t *testing.T) {
	l := Limit{Name: "n", Requests: 10, Period: time.Second, Burst: 5}
	tests := []struct {
		tat, want, granted, remaining int64
	}{
		{tat: 0, want: 3, granted: 3, remaining: 2},
		{tat: 0, want: 8, granted: 5, remaining: 0},
		{tat: int64(300 * time.Millisecond), want: 8, granted: 2, remaining: 0},
		{tat: int64(500 * time.Millisecond), want: 8, granted: 0, remaining: 0},
	}
	for _, tc := range tests {
		g, _, r := gcra(tc.tat, 0, l.interval(), l.burst(), tc.want)
		if g != tc.granted || r.Remaining != tc.remaining {
			t.Errorf("tat %v want %d: granted %d remaining %d, want %d %d",
				time.Duration(tc.tat), tc.want, g, r.Remaining, tc.granted, tc.remaining)
		}
	}
}

func TestLimitValidate(t *testing.T) {
	tests := []struct {
		name string
		l    Limit
		ok   bool
	}{
		{"ok", Limit{Name: "x", Requests: 1, Period: time.Second}, true},
		{"no name", Limit{Requests: 1, Period: time.Second}, false},
		{"colon", Limit{Name: "a:b", Requests: 1, Period: time.Second}, false},
		{"control", Limit{Name: "a\nb", Requests: 1, Period: time.Second}, false},
		{"zero requests", Limit{Name: "x", Period: time.Second}, false},
		{"zero period", Limit{Name: "x", Requests: 1}, false},
		{"negative burst", Limit{Name: "x", Requests: 1, Period: time.Second, Burst: -1}, false},
		{"huge tolerance", Limit{Name: "x", Requests: 1, Period: 24 * time.Hour, Burst: 1 << 20}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.l.Validate(); (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func newRedisClient(t testing.TB, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// runTake runs takeScript once with a fake server clock (fakeNow, in
// microseconds): the store itself always passes "" and Redis's TIME.
func runTake(ctx context.Context, c redis.Scripter, key string, l Limit, want int64, fakeNow string) (scriptReply, error) {
	return parseTake(takeScript.Run(ctx, c, []string{key}, intervalMicros(l), l.burst(), want, fakeNow))
}
