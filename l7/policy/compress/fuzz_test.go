package compress

import "testing"

// FuzzNegotiate: any Accept-Encoding picks an offered coding or none.
func FuzzNegotiate(f *testing.F) {
	for _, s := range []string{"gzip, br;q=0.9, zstd;q=0", "*;q=0.5, identity", "br;q=1.0000", "gzip;q=", ",;,q=1"} {
		f.Add(s)
	}
	var codings []*coding
	for name, level := range map[string]int{Zstd: 3, Brotli: 4, Gzip: 5} {
		c, err := newCoding(name, level)
		if err != nil {
			f.Fatal(err)
		}
		codings = append(codings, c)
	}
	f.Fuzz(func(t *testing.T, ae string) {
		if i := negotiate([]string{ae}, codings); i < -1 || i >= len(codings) {
			t.Fatalf("negotiate(%q) = %d", ae, i)
		}
	})
}
