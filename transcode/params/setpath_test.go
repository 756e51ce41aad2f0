package params

import (
	"errors"
	"testing"

	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
)

// setCase sets values one after another at path in a fresh All; the last
// value's error (if any) must be wantErr, else the message must be want.
type setCase struct {
	path    string
	values  []string
	want    string // protojson of the result
	wantErr string // exact Error()
}

func vals(v ...string) []string { return v }

var scalarCases = []setCase{
	{"f_double", vals("1.5"), `{"fDouble":1.5}`, ""},
	{"f_double", vals("-2e-3"), `{"fDouble":-0.002}`, ""},
	{"f_double", vals("NaN"), `{"fDouble":"NaN"}`, ""},
	{"f_double", vals("Infinity"), `{"fDouble":"Infinity"}`, ""},
	{"fDouble", vals("-Infinity"), `{"fDouble":"-Infinity"}`, ""},
	{"f_double", vals("inf"), "", `field "f_double": invalid double value: "inf"`},
	{"f_double", vals("0x1p3"), "", `field "f_double": invalid double value: "0x1p3"`},
	{"f_double", vals("1e400"), "", `field "f_double": double value out of range: "1e400"`},
	{"f_float", vals("3.25"), `{"fFloat":3.25}`, ""},
	{"f_float", vals("1e39"), "", `field "f_float": float value out of range: "1e39"`},
	{"f_int32", vals("-2147483648"), `{"fInt32":-2147483648}`, ""},
	{"f_int32", vals("2147483648"), "", `field "f_int32": int32 value out of range: "2147483648"`},
	{"f_int32", vals("1.0"), "", `field "f_int32": invalid int32 value: "1.0"`},
	{"f_int32", vals(""), "", `field "f_int32": invalid int32 value: ""`},
	{"f_int64", vals("9223372036854775807"), `{"fInt64":"9223372036854775807"}`, ""},
	{"f_int64", vals("-9223372036854775808"), `{"fInt64":"-9223372036854775808"}`, ""},
	{"f_int64", vals("9223372036854775808"), "", `field "f_int64": int64 value out of range: "9223372036854775808"`},
	{"f_uint32", vals("4294967295"), `{"fUint32":4294967295}`, ""},
	{"f_uint32", vals("4294967296"), "", `field "f_uint32": uint32 value out of range: "4294967296"`},
	{"f_uint32", vals("-1"), "", `field "f_uint32": invalid uint32 value: "-1"`},
	{"f_uint64", vals("18446744073709551615"), `{"fUint64":"18446744073709551615"}`, ""},
	{"f_uint64", vals("18446744073709551616"), "", `field "f_uint64": uint64 value out of range: "18446744073709551616"`},
	{"f_sint32", vals("-7"), `{"fSint32":-7}`, ""},
	{"f_sint64", vals("-9007199254740993"), `{"fSint64":"-9007199254740993"}`, ""},
	{"f_fixed32", vals("7"), `{"fFixed32":7}`, ""},
	{"f_fixed64", vals("9007199254740993"), `{"fFixed64":"9007199254740993"}`, ""},
	{"f_sfixed32", vals("-8"), `{"fSfixed32":-8}`, ""},
	{"f_sfixed64", vals("-8"), `{"fSfixed64":"-8"}`, ""},
	{"f_bool", vals("true"), `{"fBool":true}`, ""},
	{"f_bool", vals("true", "false"), `{}`, ""},
	{"f_bool", vals("True"), "", `field "f_bool": invalid bool value (want true or false): "True"`},
	{"f_bool", vals("1"), "", `field "f_bool": invalid bool value (want true or false): "1"`},
	{"f_string", vals("héllo wörld"), `{"fString":"héllo wörld"}`, ""},
	{"f_string", vals("a\xffb"), "", `field "f_string": invalid UTF-8 in string value: "a\xffb"`},
	{"f_bytes", vals("aGk="), `{"fBytes":"aGk="}`, ""},
	{"f_bytes", vals("aGk"), `{"fBytes":"aGk="}`, ""},
	{"f_bytes", vals("-_8"), `{"fBytes":"+/8="}`, ""},
	{"f_bytes", vals("+/8="), `{"fBytes":"+/8="}`, ""},
	{"f_bytes", vals("-_8="), `{"fBytes":"+/8="}`, ""},
	{"f_bytes", vals("a"), "", `field "f_bytes": invalid base64 in bytes value: "a"`},
	{"f_bytes", vals("aGk=="), "", `field "f_bytes": invalid base64 in bytes value: "aGk=="`},
	{"f_bytes", vals("a+_b"), "", `field "f_bytes": invalid base64 in bytes value: "a+_b"`},
	{"color", vals("RED"), `{"color":"RED"}`, ""},
	{"color", vals("2"), `{"color":"GREEN"}`, ""},
	{"color", vals("7"), `{"color":7}`, ""},
	{"color", vals("BLUE"), "", `field "color": unknown value for enum params.test.Color: "BLUE"`},
	{"color", vals("red"), "", `field "color": unknown value for enum params.test.Color: "red"`},
	{"opt_int32", vals("0"), `{"optInt32":0}`, ""},
	{"custom", vals("x"), `{"renamed":"x"}`, ""},
	{"renamed", vals("y"), `{"renamed":"y"}`, ""},
	{"r_int32", vals("1", "2", "3"), `{"rInt32":[1,2,3]}`, ""},
	{"rString", vals("a", ""), `{"rString":["a",""]}`, ""},
	{"r_color", vals("GREEN", "1"), `{"rColor":["GREEN","RED"]}`, ""},
	{"r_bytes", vals("AA", "AQ=="), `{"rBytes":["AA==","AQ=="]}`, ""},
	{"r_int32", vals("1", "x"), "", `field "r_int32": invalid int32 value: "x"`},
}

var nestedCases = []setCase{
	{"inner.name", vals("x"), `{"inner":{"name":"x"}}`, ""},
	{"inner.leaf.id", vals("y"), `{"inner":{"leaf":{"id":"y"}}}`, ""},
	{"inner.leaf.back.leaf.color", vals("RED"), `{"inner":{"leaf":{"back":{"leaf":{"color":"RED"}}}}}`, ""},
	{"inner.tags", vals("a", "b"), `{"inner":{"tags":["a","b"]}}`, ""},
	{"inner.count", vals("x"), "", `field "inner.count": invalid int32 value: "x"`},
	{"inner", vals("x"), "", `field "inner": message fields of type params.test.Inner cannot be set from the query`},
	{"r_inner", vals("x"), "", `field "r_inner": repeated message fields cannot be set from the query`},
	{"m_str", vals("x"), "", `field "m_str": map fields cannot be set from the query`},
	{"st", vals("{}"), "", `field "st": message fields of type google.protobuf.Struct cannot be set from the query`},
	{"c_name", vals("a", "b"), `{"cName":"b"}`, ""},
	{"c_inner.name", vals("n"), `{"cInner":{"name":"n"}}`, ""},
	{"c_id", vals("-5"), `{"cId":"-5"}`, ""},
}

var wellKnownCases = []setCase{
	{"ts", vals("2024-05-06T07:08:09.123Z"), `{"ts":"2024-05-06T07:08:09.123Z"}`, ""},
	{"ts", vals("2024-05-06T09:08:09+02:00"), `{"ts":"2024-05-06T07:08:09Z"}`, ""},
	{"ts", vals("0001-01-01T00:00:00Z"), `{"ts":"0001-01-01T00:00:00Z"}`, ""},
	{"ts", vals("0000-12-31T23:59:59Z"), "", `field "ts": timestamp out of range: "0000-12-31T23:59:59Z"`},
	{"ts", vals("2024-05-06"), "", `field "ts": invalid RFC 3339 timestamp: "2024-05-06"`},
	{"ts", vals("2024-05-06T07:08:09.1234567891Z"), "", `field "ts": invalid RFC 3339 timestamp: "2024-05-06T07:08:09.1234567891Z"`},
	{"dur", vals("1.5s"), `{"dur":"1.500s"}`, ""},
	{"dur", vals("-3s"), `{"dur":"-3s"}`, ""},
	{"dur", vals(".5s"), `{"dur":"0.5s"}`, ""},
	{"dur", vals("-0.000000001s"), `{"dur":"-0.000000001s"}`, ""},
	{"dur", vals("315576000000s"), `{"dur":"315576000000s"}`, ""},
	{"dur", vals("315576000001s"), "", `field "dur": duration out of range: "315576000001s"`},
	{"dur", vals("1m"), "", `field "dur": invalid duration (want seconds like 1.5s): "1m"`},
	{"dur", vals("01s"), "", `field "dur": invalid duration (want seconds like 1.5s): "01s"`},
	{"dur", vals("1.0000000001s"), "", `field "dur": invalid duration (want seconds like 1.5s): "1.0000000001s"`},
	{"dur", vals("-s"), "", `field "dur": invalid duration (want seconds like 1.5s): "-s"`},
	{"mask", vals("fooBar,baz.quxQuux"), `{"mask":"fooBar,baz.quxQuux"}`, ""},
	{"mask", vals("foo_bar,inner.name"), `{"mask":"fooBar,inner.name"}`, ""},
	{"mask", vals(""), `{"mask":""}`, ""},
	{"mask", vals("a,,b"), "", `field "mask": invalid field mask path: "a,,b"`},
	{"mask", vals("foo__bar"), "", `field "mask": invalid field mask path: "foo__bar"`},
	{"mask", vals("foo_1"), "", `field "mask": invalid field mask path: "foo_1"`},
	{"w_double", vals("2.5"), `{"wDouble":2.5}`, ""},
	{"w_float", vals("NaN"), `{"wFloat":"NaN"}`, ""},
	{"w_int64", vals("-9223372036854775808"), `{"wInt64":"-9223372036854775808"}`, ""},
	{"w_uint64", vals("18446744073709551615"), `{"wUint64":"18446744073709551615"}`, ""},
	{"w_int32", vals("0"), `{"wInt32":0}`, ""},
	{"w_uint32", vals("4294967295"), `{"wUint32":4294967295}`, ""},
	{"w_bool", vals("false"), `{"wBool":false}`, ""},
	{"w_string", vals(""), `{"wString":""}`, ""},
	{"w_bytes", vals("aGk"), `{"wBytes":"aGk="}`, ""},
	{"w_int32", vals("2147483648"), "", `field "w_int32": int32 value out of range: "2147483648"`},
	{"w_bool", vals("yes"), "", `field "w_bool": invalid bool value (want true or false): "yes"`},
	{"r_w_int32", vals("1", "0"), `{"rWInt32":[1,0]}`, ""},
	{"r_ts", vals("2024-01-01T00:00:00Z", "1970-01-01T00:00:01Z"), `{"rTs":["2024-01-01T00:00:00Z","1970-01-01T00:00:01Z"]}`, ""},
	{"r_dur", vals("1s", "x"), "", `field "r_dur": invalid duration (want seconds like 1.5s): "x"`},
}

func TestSetPath(t *testing.T) {
	groups := map[string][]setCase{"scalar": scalarCases, "nested": nestedCases, "wellknown": wellKnownCases}
	eachSet(t, func(t *testing.T, files *protoregistry.Files) {
		md := message(t, files, "params.test.All")
		for group, cases := range groups {
			for _, c := range cases {
				t.Run(group+"/"+c.path+"="+c.values[len(c.values)-1], func(t *testing.T) {
					p, err := Resolve(md, c.path)
					if err != nil {
						t.Fatalf("Resolve: %v", err)
					}
					m := dynamicpb.NewMessage(md)
					for _, v := range c.values {
						err = SetPath(m, p, v)
					}
					checkResult(t, m, err, c.want, c.wantErr)
				})
			}
		}
	})
}

// checkResult checks a successful result against want or an error against
// wantErr.
func checkResult(t *testing.T, m *dynamicpb.Message, err error, want, wantErr string) {
	t.Helper()
	if wantErr != "" {
		var fe *FieldError
		if !errors.As(err, &fe) {
			t.Fatalf("got error %v, want *FieldError %s", err, wantErr)
		}
		if err.Error() != wantErr {
			t.Fatalf("got error\n  %s\nwant\n  %s", err, wantErr)
		}
		return
	}
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	checkJSON(t, m, want)
}
