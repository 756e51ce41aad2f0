package ratelimit

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bouncer-proxy/bouncer/internal/testsvc"
)

func BenchmarkLocalStoreTake(b *testing.B) {
	s := NewLocalStore(LocalOptions{})
	l := Limit{Name: "b", Requests: 1 << 40, Period: time.Second}
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprint("client-", i)
	}
	var seq atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := int(seq.Add(1)) * 7919
		ctx := context.Background()
		for pb.Next() {
			i++
			if _, err := s.Take(ctx, keys[i%len(keys)], l, time.Now()); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkRedisStoreTake(b *testing.B) {
	for _, lease := range []int64{0, 16} {
		b.Run(fmt.Sprint("lease=", lease), func(b *testing.B) {
			rd := testsvc.StartRedis(b)
			s := newRedisStore(b, rd.Addr, RedisOptions{LeaseSize: lease, Timeout: time.Second})
			// T = 1ms: a lease of 16 lasts 16ms, longer than 16 takes.
			l := Limit{Name: "b", Requests: 1000, Period: time.Second, Burst: 1 << 20}
			ctx := context.Background()
			lat := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				start := time.Now()
				if _, err := s.Take(ctx, "k", l, start); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
}

func BenchmarkLimiterCheck(b *testing.B) {
	limits := []Limit{
		{Name: "per-second", Requests: 1 << 30, Period: time.Second},
		{Name: "per-day", Requests: 1 << 40, Period: 24 * time.Hour},
	}
	lm, err := New(limits, NewLocalStore(LocalOptions{}), func(r *http.Request) (string, bool) {
		return r.RemoteAddr, true
	}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for range b.N {
		if !lm.Check(w, r) {
			b.Fatal("denied")
		}
	}
}
