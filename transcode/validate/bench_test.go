package validate

import "testing"

func BenchmarkValidateValid(b *testing.B) {
	set := fetch(b, startUpstream(b, compile(b, "v1")))
	v, err := New(nil)
	if err != nil {
		b.Fatal(err)
	}
	m := fromJSON(b, set, "CreateBookRequest", validRequest)
	if !v.Has(m.Descriptor()) {
		b.Fatal("Has = false")
	}
	b.ReportAllocs()
	for b.Loop() {
		if got := v.Validate(m); got != nil {
			b.Fatal(got)
		}
	}
}

func BenchmarkHasCached(b *testing.B) {
	set := fetch(b, startUpstream(b, compile(b, "v1")))
	v, err := New(nil)
	if err != nil {
		b.Fatal(err)
	}
	md := newMessage(b, set, "Plain").Descriptor()
	b.ReportAllocs()
	for b.Loop() {
		if v.Has(md) {
			b.Fatal("Has(Plain) = true")
		}
	}
}
