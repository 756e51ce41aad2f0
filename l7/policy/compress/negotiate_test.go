package compress

import "testing"

func TestNegotiate(t *testing.T) {
	def, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	gzipFirst, err := New(Options{Encodings: []string{Gzip, Brotli}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		c      *Compressor
		values []string
		want   string // "" is identity
	}{
		{def, nil, ""},
		{def, []string{""}, ""},
		{def, []string{"gzip"}, Gzip},
		{def, []string{"gzip, br"}, Brotli},
		{def, []string{"gzip, deflate, br, zstd"}, Zstd},
		{def, []string{"br;q=0.5, gzip"}, Gzip},
		{def, []string{"*"}, Zstd},
		{def, []string{"*;q=0"}, ""},
		{def, []string{"gzip;q=0, *"}, Zstd},
		{def, []string{"zstd;q=0, br;q=0, *;q=0.1"}, Gzip},
		{def, []string{"identity"}, ""},
		{def, []string{"deflate"}, ""},
		{def, []string{"GZIP ; Q=0.8"}, Gzip},
		{def, []string{"x-gzip"}, Gzip},
		{def, []string{"br;q=abc"}, ""},
		{def, []string{"br;q=1.5"}, ""},
		{def, []string{"br;q=0.001"}, Brotli},
		{def, []string{"gzip;q=0.5", "br;q=0.6"}, Brotli},
		{def, []string{"zstd;q=0.2, zstd;q=0.9, br;q=0.5"}, Zstd},
		{def, []string{" , ,gzip;level=3;q=0.4,"}, Gzip},
		{gzipFirst, []string{"br, gzip, zstd"}, Gzip},
		{gzipFirst, []string{"zstd"}, ""},
		{gzipFirst, []string{"*"}, Gzip},
	}
	for _, tt := range tests {
		got := ""
		if i := negotiate(tt.values, tt.c.codings); i >= 0 {
			got = tt.c.codings[i].name
		}
		if got != tt.want {
			t.Errorf("negotiate(%q) = %q, want %q", tt.values, got, tt.want)
		}
	}
}

func TestParseQ(t *testing.T) {
	tests := map[string]int{
		"1": 1000, "1.": 1000, "1.000": 1000, "0": 0, "0.5": 500, "0.25": 250, "0.125": 125,
		"1.5": 0, "2": 0, "0.1234": 0, "": 0, "0.x": 0, ".5": 0, "00.5": 0, "-1": 0,
	}
	for in, want := range tests {
		if got := parseQ(in); got != want {
			t.Errorf("parseQ(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestNegotiateAllocs(t *testing.T) {
	c, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	values := []string{"gzip, deflate, br;q=0.9, zstd;q=0.8, *;q=0.1"}
	if n := testing.AllocsPerRun(100, func() { negotiate(values, c.codings) }); n != 0 {
		t.Fatalf("negotiate allocates %v times", n)
	}
}
