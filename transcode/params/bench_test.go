package params

import (
	"testing"

	"google.golang.org/protobuf/types/dynamicpb"
)

// benchQuery is a realistic List query: five parameters, JSON and proto
// names, escapes, a field mask; parent comes from the path.
const benchQuery = "pageSize=25&page_token=CgZib29rLTQy&filter=author%3D%22Knuth%22&order_by=title+desc&read_mask=title,author"

func BenchmarkDecode(b *testing.B) {
	sets, err := loadOnce()
	if err != nil {
		b.Fatal(err)
	}
	md := message(b, sets.reflected, "params.test.ListBooksRequest")
	parent, err := Resolve(md, "parent")
	if err != nil {
		b.Fatal(err)
	}
	d := NewQueryDecoder(md, []Path{parent}, true)
	typ := dynamicpb.NewMessageType(md)
	b.ReportAllocs()
	for b.Loop() {
		m := typ.New()
		if err := d.Decode(m, benchQuery); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSetPath(b *testing.B) {
	md := allType(b)
	p, err := Resolve(md, "inner.leaf.id")
	if err != nil {
		b.Fatal(err)
	}
	typ := dynamicpb.NewMessageType(md)
	b.ReportAllocs()
	for b.Loop() {
		if err := SetPath(typ.New(), p, "book-42"); err != nil {
			b.Fatal(err)
		}
	}
}
