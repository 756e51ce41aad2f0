package route

import (
	"errors"
	"strings"
	"testing"
	"unsafe"
)

func TestNormalizePath(t *testing.T) {
	tests := []struct {
		in, want string
		bad      bool
	}{
		{in: "/", want: "/"},
		{in: "/a/b", want: "/a/b"},
		{in: "/a/b/", want: "/a/b/"},
		{in: "//secret", want: "/secret"},
		{in: "/a///b//", want: "/a/b/"},
		{in: "/admin/../secret", want: "/secret"},
		{in: "/a/./b", want: "/a/b"},
		{in: "/a/.", want: "/a/"},
		{in: "/a/b/..", want: "/a/"},
		{in: "/a/..", want: "/"},
		{in: "/.", want: "/"},
		{in: "/a/...", want: "/a/..."},
		{in: "/a/.b/..c", want: "/a/.b/..c"},
		{in: "/%2e%2e/secret", bad: true},
		{in: "/x/%2e%2E/secret", want: "/secret"},
		{in: "/x/%2e/y", want: "/x/y"},
		{in: "/%7euser/%41%62", want: "/~user/Ab"},
		{in: "/a%2fb", want: "/a%2Fb"},
		{in: "/a%2F..%2Fb", want: "/a%2F..%2Fb"},
		{in: "/a%2f%2e%2e", want: "/a%2F.."},
		{in: "/caf%c3%a9", want: "/caf%C3%A9"},
		{in: "/café", want: "/caf%C3%A9"},
		{in: "/a b", want: "/a%20b"},
		{in: "/{x}|y", want: "/%7Bx%7D%7Cy"},
		{in: "/a\\b", want: "/a%5Cb"},
		{in: "/%25", want: "/%25"},
		{in: "/%2525", want: "/%2525"},
		{in: "/a:b@c!$&'()*+,;=", want: "/a:b@c!$&'()*+,;="},
		{in: "/%3a%40", want: "/%3A%40"},
		{in: "/..", bad: true},
		{in: "/a/../..", bad: true},
		{in: "/a/../../b", bad: true},
		{in: "", bad: true},
		{in: "a/b", bad: true},
		{in: "*", bad: true},
		{in: "/a\x00b", bad: true},
		{in: "/a\nb", bad: true},
		{in: "/a\x7f", bad: true},
		{in: "/a%00b", bad: true},
		{in: "/a%0a", bad: true},
		{in: "/a%7F", bad: true},
		{in: "/a%", bad: true},
		{in: "/a%2", bad: true},
		{in: "/a%zz", bad: true},
		{in: "/a%%41", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := NormalizePath(tt.in)
			if tt.bad {
				if err == nil || !errors.Is(err, ErrBadPath) {
					t.Fatalf("NormalizePath(%q) = %q, %v; want an ErrBadPath error", tt.in, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("NormalizePath(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestNormalizePathFastPath(t *testing.T) {
	for _, p := range []string{"/", "/api/v1/users/42", "/a%2Fb/c~d_e.f-g", "/x/"} {
		got, err := NormalizePath(p)
		if err != nil || got != p {
			t.Fatalf("NormalizePath(%q) = %q, %v", p, got, err)
		}
		if unsafe.StringData(got) != unsafe.StringData(p) {
			t.Errorf("NormalizePath(%q) copied a path already normal", p)
		}
		if n := testing.AllocsPerRun(100, func() { _, _ = NormalizePath(p) }); n != 0 {
			t.Errorf("NormalizePath(%q) allocates %v times", p, n)
		}
	}
}

func FuzzNormalizePath(f *testing.F) {
	for _, s := range []string{"/", "/a/../b", "//x//y/", "/%2e%2E/", "/%41%2f", "/a/./b/.", "/é %zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := NormalizePath(in)
		if err != nil {
			if !errors.Is(err, ErrBadPath) || out != "" {
				t.Fatalf("NormalizePath(%q) = %q, %v", in, out, err)
			}
			return
		}
		if !strings.HasPrefix(out, "/") || !isNormal(out) {
			t.Fatalf("NormalizePath(%q) = %q, not normal", in, out)
		}
		again, err := NormalizePath(out)
		if err != nil || again != out {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", in, out, again, err)
		}
		if isNormal(in) != (in == out) {
			t.Fatalf("NormalizePath(%q) = %q, but isNormal(in) = %v", in, out, isNormal(in))
		}
		for _, seg := range strings.Split(out[1:], "/") {
			if seg == "." || seg == ".." || strings.ContainsAny(seg, "\x00\r\n") {
				t.Fatalf("NormalizePath(%q) = %q has segment %q", in, out, seg)
			}
		}
	})
}
