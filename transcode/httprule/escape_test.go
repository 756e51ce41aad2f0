package httprule

import (
	"strings"
	"testing"
)

func TestLiteralEq(t *testing.T) {
	tests := []struct {
		lit, seg string
		want     bool
	}{
		{"book", "book", true},
		{"book", "b%6Fok", true},
		{"book", "b%6fok", true},
		{"book", "boo", false},
		{"book", "books", false},
		{"a%2Fb", "a%2fb", true},
		{"a%2Fb", "a%2Fb", true},
		{"a%2Fb", "a/b", false},
		{"a%21", "a!", false},
		{"a!", "a%21", false},
		{"", "", true},
		{"%C3%A9", "%c3%a9", true},
		{"%C3%A9", "%C3", false},
	}
	for _, tt := range tests {
		if got := literalEq(tt.lit, tt.seg); got != tt.want {
			t.Errorf("literalEq(%q, %q) = %v, want %v", tt.lit, tt.seg, got, tt.want)
		}
	}
}

func TestBadEscape(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"", -1},
		{"/a/b", -1},
		{"/a%20b%2f", -1},
		{"%", 0},
		{"/a%2", 2},
		{"/a%2g", 2},
		{"/a%20%zz", 5},
		{"/%%41", 1},
	}
	for _, tt := range tests {
		if got := badEscape(tt.in); got != tt.want {
			t.Errorf("badEscape(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestDecodedLen(t *testing.T) {
	for _, s := range []string{"", "abc", "a%20b", "%2F%2f%41", "x%C3%A9/y%2Fz"} {
		for _, keep := range []bool{false, true} {
			var sb strings.Builder
			writeDecoded(&sb, s, keep)
			b := sb.String()
			if got := decodedLen(s, keep); got != len(b) {
				t.Errorf("decodedLen(%q, %v) = %d, want %d (%q)", s, keep, got, len(b), b)
			}
		}
	}
}
