package params

import (
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
)

func TestResolve(t *testing.T) {
	cases := []struct {
		dotted  string
		want    string // Path.String()
		wantErr string
	}{
		{"f_int32", "f_int32", ""},
		{"fInt32", "f_int32", ""},
		{"renamed", "custom", ""},
		{"inner.leaf.id", "inner.leaf.id", ""},
		{"inner.leaf.back.leaf.back.name", "inner.leaf.back.leaf.back.name", ""},
		{"r_inner", "r_inner", ""},
		{"m_str", "m_str", ""},
		{"ts.seconds", "ts.seconds", ""},
		{"", "", `field "": empty field path`},
		{"nope", "", `field "nope": element 1 ("nope") is not a field of params.test.All`},
		{"inner.nope", "", `field "inner.nope": element 2 ("nope") is not a field of params.test.Inner`},
		{"inner..name", "", `field "inner..name": empty element in field path`},
		{"inner.", "", `field "inner.": empty element in field path`},
		{"f_int32.x", "", `field "f_int32.x": f_int32 is an int32 field; only a singular message field has sub-fields`},
		{"r_inner.name", "", `field "r_inner.name": r_inner is a repeated field; only a singular message field has sub-fields`},
		{"m_str.key", "", `field "m_str.key": m_str is a map field; only a singular message field has sub-fields`},
	}
	eachSet(t, func(t *testing.T, files *protoregistry.Files) {
		md := message(t, files, "params.test.All")
		for _, c := range cases {
			t.Run(c.dotted, func(t *testing.T) {
				p, err := Resolve(md, c.dotted)
				if c.wantErr != "" {
					if err == nil || err.Error() != c.wantErr {
						t.Fatalf("got %v, want error %s", err, c.wantErr)
					}
					return
				}
				if err != nil {
					t.Fatalf("Resolve: %v", err)
				}
				if p.String() != c.want {
					t.Fatalf("got %s, want %s", p, c.want)
				}
			})
		}
	})
}

func TestSetPathOneof(t *testing.T) {
	cases := []struct {
		name    string
		steps   [][2]string // path, value
		want    string
		wantErr string
	}{
		{"two members", [][2]string{{"c_name", "a"}, {"c_id", "1"}}, "",
			`field "c_id": oneof choice already has c_name set`},
		{"message member after scalar", [][2]string{{"c_id", "1"}, {"c_inner.name", "x"}}, "",
			`field "c_inner.name": oneof choice already has c_id set`},
		{"scalar after message member", [][2]string{{"c_inner.count", "2"}, {"c_name", "x"}}, "",
			`field "c_name": oneof choice already has c_inner set`},
		{"fields of one member", [][2]string{{"c_inner.name", "x"}, {"c_inner.count", "2"}},
			`{"cInner":{"name":"x","count":2}}`, ""},
		{"same member again", [][2]string{{"c_id", "1"}, {"c_id", "2"}}, `{"cId":"2"}`, ""},
		{"zero value still counts", [][2]string{{"c_name", ""}, {"c_id", "0"}}, "",
			`field "c_id": oneof choice already has c_name set`},
		{"proto3 optional is no oneof", [][2]string{{"opt_int32", "1"}, {"f_int32", "2"}},
			`{"optInt32":1,"fInt32":2}`, ""},
	}
	eachSet(t, func(t *testing.T, files *protoregistry.Files) {
		md := message(t, files, "params.test.All")
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				m := dynamicpb.NewMessage(md)
				var err error
				for _, s := range c.steps {
					p, rerr := Resolve(md, s[0])
					if rerr != nil {
						t.Fatalf("Resolve: %v", rerr)
					}
					if err = SetPath(m, p, s[1]); err != nil {
						break
					}
				}
				checkResult(t, m, err, c.want, c.wantErr)
			})
		}
	})
}

func TestSetPathClosedEnum(t *testing.T) {
	cases := []struct {
		path, value, want, wantErr string
	}{
		{"size", "LARGE", `{"size":"LARGE"}`, ""},
		{"size", "1", `{"size":"SMALL"}`, ""},
		{"size", "3", "", `field "size": unknown number for closed enum params.test2.Size: "3"`},
		{"sizes", "0", "", `field "sizes": unknown number for closed enum params.test2.Size: "0"`},
		{"sizes", "2", `{"sizes":["LARGE"]}`, ""},
		{"s", "", `{"s":""}`, ""},
	}
	eachSet(t, func(t *testing.T, files *protoregistry.Files) {
		md := message(t, files, "params.test2.Closed")
		for _, c := range cases {
			t.Run(c.path+"="+c.value, func(t *testing.T) {
				p, err := Resolve(md, c.path)
				if err != nil {
					t.Fatalf("Resolve: %v", err)
				}
				m := dynamicpb.NewMessage(md)
				checkResult(t, m, SetPath(m, p, c.value), c.want, c.wantErr)
			})
		}
	})
}

func TestSetPathWrongMessage(t *testing.T) {
	eachSet(t, func(t *testing.T, files *protoregistry.Files) {
		p, err := Resolve(message(t, files, "params.test.All"), "f_int32")
		if err != nil {
			t.Fatal(err)
		}
		m := dynamicpb.NewMessage(message(t, files, "params.test.Inner"))
		err = SetPath(m, p, "1")
		want := `field "f_int32": path resolved against params.test.All, not the message's type params.test.Inner`
		if err == nil || err.Error() != want {
			t.Fatalf("got %v, want %s", err, want)
		}
		if err := SetPath(m, nil, "1"); err == nil || err.Error() != `field "": empty field path` {
			t.Fatalf("empty path: got %v", err)
		}
	})
}

// TestEchoBudget checks that errors repeat at most 64 bytes of client input.
func TestEchoBudget(t *testing.T) {
	md := allType(t)
	long := strings.Repeat("x", 500)
	p, err := Resolve(md, "f_int32")
	if err != nil {
		t.Fatal(err)
	}
	m := dynamicpb.NewMessage(md)
	errs := []error{SetPath(m, p, long)}
	_, err = Resolve(md, long)
	errs = append(errs, err)
	_, err = Resolve(md, "inner."+long)
	errs = append(errs, err)
	errs = append(errs, NewQueryDecoder(md, nil, true).Decode(m, long+"=1"))
	errs = append(errs, NewQueryDecoder(md, nil, false).Decode(m, "f_int32="+long))
	errs = append(errs, NewQueryDecoder(md, nil, false).Decode(m, "f_string="+strings.Repeat("é", 100)+"%ff"))
	for i, err := range errs {
		if err == nil {
			t.Fatalf("case %d: no error", i)
		}
		if n := strings.Count(err.Error(), "x") + strings.Count(err.Error(), "é")*2; n > 64 {
			t.Errorf("case %d echoes %d bytes: %s", i, n, err)
		}
		fe, ok := err.(*FieldError)
		if !ok || len(fe.Field) > 64 {
			t.Errorf("case %d: %T %v", i, err, err)
		}
	}
}

func TestClip(t *testing.T) {
	cases := []struct {
		s    string
		n    int
		want string
	}{
		{"abc", 5, "abc"},
		{"abcdef", 3, "abc"},
		{"aé", 2, "a"},
		{"\x80\x80\x80\x80\x80\x80", 5, "\x80\x80\x80\x80\x80"},
		{"abc", 0, ""},
	}
	for _, c := range cases {
		if got := clip(c.s, c.n); got != c.want {
			t.Errorf("clip(%q, %d) = %q, want %q", c.s, c.n, got, c.want)
		}
	}
}

func TestResolveDepthLimit(t *testing.T) {
	md := allType(t)
	deep := "inner" + strings.Repeat(".leaf.back", 49) + ".name"
	if _, err := Resolve(md, deep); err != nil {
		t.Fatalf("100 elements: %v", err)
	}
	want := `field "` + deep[:64] + `": field path longer than 100 elements`
	if _, err := Resolve(md, deep+".x"); err == nil || err.Error() != want {
		t.Fatalf("101 elements: got %v, want %s", err, want)
	}
}

func TestSettable(t *testing.T) {
	cases := map[string]string{
		"f_int32": "", "color": "", "r_bytes": "", "ts": "", "dur": "", "mask": "", "w_bytes": "",
		"r_w_int32": "", "r_ts": "", "c_inner.name": "",
		"inner":   `field "inner": message fields of type params.test.Inner cannot be set from the query`,
		"st":      `field "st": message fields of type google.protobuf.Struct cannot be set from the query`,
		"r_inner": `field "r_inner": repeated message fields cannot be set from the query`,
		"m_str":   `field "m_str": map fields cannot be set from the query`,
	}
	eachSet(t, func(t *testing.T, files *protoregistry.Files) {
		md := message(t, files, "params.test.All")
		for path, want := range cases {
			p, err := Resolve(md, path)
			if err != nil {
				t.Fatal(err)
			}
			err = Settable(p[len(p)-1])
			if got := fmt.Sprint(err); want == "" && err != nil || want != "" && got != want {
				t.Errorf("%s: got %v, want %q", path, err, want)
			}
		}
	})
}
