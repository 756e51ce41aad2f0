package params

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
)

type decodeCase struct {
	name    string
	bound   []string
	strict  bool
	query   string
	want    string
	wantErr string
}

// manySingular sets more singular fields than seenSet keeps on the stack.
const manySingular = "f_double=1&f_float=1&f_int32=1&f_int64=1&f_uint32=1&f_uint64=1&f_sint32=1&f_sint64=1&f_fixed32=1&f_fixed64=1&f_bool=true"

var decodeCases = []decodeCase{
	{name: "realistic", query: "f_int32=5&f_string=a+b%20c%2B&r_int32=1&r_int32=2&inner.name=x&color=RED",
		want: `{"fInt32":5,"fString":"a b c+","rInt32":[1,2],"inner":{"name":"x"},"color":"RED"}`},
	{name: "json names", query: "fInt32=5&inner.leaf.id=z&renamed=r&rWInt32=4",
		want: `{"fInt32":5,"inner":{"leaf":{"id":"z"}},"renamed":"r","rWInt32":[4]}`},
	{name: "escaped key", query: "inner%2Ename=x&f%5Fbool=true", want: `{"inner":{"name":"x"},"fBool":true}`},
	{name: "empty query", query: "", want: `{}`},
	{name: "empty pairs", query: "&&f_int32=1&", want: `{"fInt32":1}`},
	{name: "key without value", query: "f_string&r_string", want: `{"rString":[""]}`},
	{name: "value with equals", query: "f_string=a=b", want: `{"fString":"a=b"}`},
	{name: "repeated across spellings", query: "r_int32=1&rInt32=2", want: `{"rInt32":[1,2]}`},
	{name: "well-known types", query: "ts=2024-05-06T07:08:09Z&dur=1.5s&mask=fooBar,inner.name&w_bool=true&r_ts=1970-01-01T00:00:01Z",
		want: `{"ts":"2024-05-06T07:08:09Z","dur":"1.5s","mask":"fooBar,inner.name","wBool":true,"rTs":["1970-01-01T00:00:01Z"]}`},
	{name: "deeper than the key table", query: "inner.leaf.back.leaf.id=q&inner.leaf.back.leaf.back.tags=t",
		want: `{"inner":{"leaf":{"back":{"leaf":{"id":"q","back":{"tags":["t"]}}}}}}`},
	{name: "oneof", query: "c_inner.name=a&c_inner.count=3", want: `{"cInner":{"name":"a","count":3}}`},

	{name: "bound field skipped", bound: []string{"f_int32"}, query: "f_int32=abc&f_bool=true", want: `{"fBool":true}`},
	{name: "bound sub-fields skipped", bound: []string{"inner"}, query: "inner.name=x&inner.leaf.back.leaf.id=q&inner.nope=1",
		strict: true, want: `{}`},
	{name: "bound by json name", bound: []string{"inner.leaf"}, query: "inner.leaf.id=x&inner.name=y", want: `{"inner":{"name":"y"}}`},
	{name: "unknown ignored", query: "nope=1&inner.nope=2&=3&f_int32=4", want: `{"fInt32":4}`},

	{name: "unknown strict", strict: true, query: "f_int32=4&nope=1",
		wantErr: `field "nope": unknown query parameter: element 1 ("nope") is not a field of params.test.All`},
	{name: "unknown nested strict", strict: true, query: "inner.nope=1",
		wantErr: `field "inner.nope": unknown query parameter: element 2 ("nope") is not a field of params.test.Inner`},
	{name: "singular twice", query: "f_int32=1&f_int32=2", wantErr: `field "f_int32": a non-repeated field given more than once`},
	{name: "singular twice across spellings", query: "f_int32=1&fInt32=1",
		wantErr: `field "fInt32": a non-repeated field given more than once`},
	{name: "nested singular twice", query: "inner.name=1&inner.count=1&inner.name=2",
		wantErr: `field "inner.name": a non-repeated field given more than once`},
	{name: "deep singular twice", query: "inner.leaf.back.leaf.id=1&inner.leaf.back.leaf.id=2",
		wantErr: `field "inner.leaf.back.leaf.id": a non-repeated field given more than once`},
	{name: "many singular fields", query: manySingular,
		want: `{"fDouble":1,"fFloat":1,"fInt32":1,"fInt64":"1","fUint32":1,"fUint64":"1","fSint32":1,"fSint64":"1","fFixed32":1,"fFixed64":"1","fBool":true}`},
	{name: "many singular, first twice", query: manySingular + "&f_double=2",
		wantErr: `field "f_double": a non-repeated field given more than once`},
	{name: "many singular, last twice", query: manySingular + "&fBool=false",
		wantErr: `field "fBool": a non-repeated field given more than once`},
	{name: "oneof conflict", query: "c_name=a&c_id=1", wantErr: `field "c_id": oneof choice already has c_name set`},
	{name: "bad value", query: "f_int32=x1", wantErr: `field "f_int32": invalid int32 value: "x1"`},
	{name: "bad escape in value", query: "f_string=%zz", wantErr: `field "f_string": malformed percent-encoding in the query parameter value`},
	{name: "truncated escape", query: "f_string=a%4", wantErr: `field "f_string": malformed percent-encoding in the query parameter value`},
	{name: "bad escape in ignored value", query: "nope=%", wantErr: `field "nope": malformed percent-encoding in the query parameter value`},
	{name: "bad escape in bound value", bound: []string{"f_int32"}, query: "f_int32=%g1",
		wantErr: `field "f_int32": malformed percent-encoding in the query parameter value`},
	{name: "bad escape in key", query: "f%g=1", wantErr: `field "f%g": malformed percent-encoding in the query parameter name`},
	{name: "through a scalar", query: "f_int32.x=1", wantErr: `field "f_int32.x": f_int32 is an int32 field; only a singular message field has sub-fields`},
	{name: "through a repeated message", query: "r_inner.name=1",
		wantErr: `field "r_inner.name": r_inner is a repeated field; only a singular message field has sub-fields`},
	{name: "repeated message", query: "r_inner=1", wantErr: `field "r_inner": repeated message fields cannot be set from the query`},
	{name: "map", query: "m_str=1", wantErr: `field "m_str": map fields cannot be set from the query`},
	{name: "message", query: "inner=1", wantErr: `field "inner": message fields of type params.test.Inner cannot be set from the query`},
	{name: "invalid UTF-8", query: "f_string=%C3%28", wantErr: `field "f_string": invalid UTF-8 in string value: "\xc3("`},
}

func TestDecode(t *testing.T) {
	eachSet(t, func(t *testing.T, files *protoregistry.Files) {
		md := message(t, files, "params.test.All")
		for _, c := range decodeCases {
			t.Run(c.name, func(t *testing.T) {
				var bound []Path
				for _, b := range c.bound {
					p, err := Resolve(md, b)
					if err != nil {
						t.Fatal(err)
					}
					bound = append(bound, p)
				}
				m := dynamicpb.NewMessage(md)
				err := NewQueryDecoder(md, bound, c.strict).Decode(m, c.query)
				checkResult(t, m, err, c.want, c.wantErr)
			})
		}
	})
}

func TestDecodeWrongMessage(t *testing.T) {
	eachSet(t, func(t *testing.T, files *protoregistry.Files) {
		d := NewQueryDecoder(message(t, files, "params.test.All"), nil, false)
		m := dynamicpb.NewMessage(message(t, files, "params.test.Inner"))
		if err := d.Decode(m, "name=x"); !errors.Is(err, errWrongType) {
			t.Fatalf("got %v, want %v", err, errWrongType)
		}
	})
}

// TestDecodeKeyTable checks the table built up front: every spelling of the
// shallow paths, bounded, and resolving as Resolve does.
func TestDecodeKeyTable(t *testing.T) {
	md := allType(t)
	d := NewQueryDecoder(md, nil, false)
	if len(d.keys) == 0 || len(d.keys) > maxCachedKeys {
		t.Fatalf("%d keys", len(d.keys))
	}
	for _, k := range []string{"f_int32", "fInt32", "renamed", "custom", "inner.leaf.id", "inner.leaf.back", "cInner.leaf.color"} {
		f, ok := d.keys[k]
		if !ok {
			t.Errorf("key %s missing", k)
			continue
		}
		p, err := Resolve(md, k)
		if err != nil || p.String() != f.path.String() {
			t.Errorf("key %s: table %s, Resolve %v %v", k, f.path, p, err)
		}
	}
	if _, ok := d.keys["inner.leaf.back.name"]; ok {
		t.Errorf("depth 4 key in the table")
	}
}

// TestDecodeConcurrent shares one decoder between goroutines (run with -race).
func TestDecodeConcurrent(t *testing.T) {
	md := allType(t)
	d := NewQueryDecoder(md, nil, true)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				m := dynamicpb.NewMessage(md)
				q := fmt.Sprintf("f_int32=%d&inner.leaf.back.name=n%d&r_string=a&r_string=b", g, i)
				if err := d.Decode(m, q); err != nil {
					errs <- err
					return
				}
				if got := m.Get(md.Fields().ByName("f_int32")).Int(); got != int64(g) {
					errs <- fmt.Errorf("goroutine %d got f_int32 %d", g, got)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// FuzzDecode: Decode never panics, fails only with a *FieldError, and
// whatever it accepts protojson can write.
func FuzzDecode(f *testing.F) {
	for _, c := range decodeCases {
		f.Add(c.query, c.strict)
	}
	md := allType(f)
	bound, err := Resolve(md, "c_inner")
	if err != nil {
		f.Fatal(err)
	}
	decoders := map[bool]*QueryDecoder{
		false: NewQueryDecoder(md, []Path{bound}, false),
		true:  NewQueryDecoder(md, nil, true),
	}
	f.Fuzz(func(t *testing.T, query string, strict bool) {
		m := dynamicpb.NewMessage(md)
		err := decoders[strict].Decode(m, query)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || len(fe.Field) > maxEcho {
				t.Fatalf("error %T %v", err, err)
			}
			return
		}
		checkRoundTrip(t, m)
	})
}

// checkRoundTrip reads back what protojson wrote for m: the values set
// from text are the values the JSON mapping means.
func checkRoundTrip(t *testing.T, m protoreflect.Message) {
	b, err := protojson.Marshal(m.Interface())
	if err != nil {
		t.Fatalf("protojson cannot write the result: %v", err)
	}
	back := dynamicpb.NewMessage(m.Descriptor())
	if err := protojson.Unmarshal(b, back); err != nil {
		t.Fatalf("protojson cannot read back %s: %v", b, err)
	}
	if !proto.Equal(m.Interface(), back) {
		t.Fatalf("round trip changed the message: %s", b)
	}
}
