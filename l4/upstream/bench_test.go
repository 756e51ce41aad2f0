package upstream

import "testing"

// BenchmarkPick measures one pick per algorithm over 10 equally weighted
// endpoints, serially and from parallel goroutines.
func BenchmarkPick(b *testing.B) {
	for _, algo := range algorithms {
		r := NewRegistry(Options{})
		c, err := r.Build("bench", upstreamOf(algo, fakeAddrs(10)...))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(algo, func(b *testing.B) {
			b.ReportAllocs()
			var h uint64
			for b.Loop() {
				h += 0x9e3779b97f4a7c15
				if _, err := c.Pick(h, true, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(algo+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				var h uint64
				for pb.Next() {
					h += 0x9e3779b97f4a7c15
					if _, err := c.Pick(h, true, nil); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
		r.Close()
	}
}
