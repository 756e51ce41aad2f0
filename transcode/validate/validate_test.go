package validate

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	bufvalidate "buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

const validBook = `{"title":"Dune","isbn":"9780441013593","pages":412,"genre":"GENRE_FICTION",` +
	`"tags":["sf","classic"],"ratings":{"alice":5}}`

const validRequest = `{"parent":"shelves/1","book":` + validBook + `,"publishYear":1965,"printYear":1990}`

// withBook is a valid CreateBookRequest whose book has the fields of the
// JSON object fields replaced or added.
func withBook(t *testing.T, fields string) string {
	t.Helper()
	var book, extra map[string]any
	if err := json.Unmarshal([]byte(validBook), &book); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(fields), &extra); err != nil {
		t.Fatal(err)
	}
	maps.Copy(book, extra)
	b, err := json.Marshal(map[string]any{"parent": "shelves/1", "book": book})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// pair is what a test checks of a violation: where and which rule.
type pair struct{ field, rule string }

func pairs(t *testing.T, vs []Violation) []pair {
	t.Helper()
	var out []pair
	for _, v := range vs {
		if v.Message == "" {
			t.Errorf("violation %q %q has no message", v.Field, v.Rule)
		}
		out = append(out, pair{v.Field, v.Rule})
	}
	return out
}

// The rules arrive as typed buf.validate extensions on descriptors fetched
// through a real reflection server, so protovalidate reads them as it
// would read generated code.
func TestReflectedRulesAreTyped(t *testing.T) {
	set := fetch(t, startUpstream(t, compile(t, "v1")))
	fd := newMessage(t, set, "Book").Descriptor().Fields().ByName("title")
	rules, ok := proto.GetExtension(fd.Options(), bufvalidate.E_Field).(*bufvalidate.FieldRules)
	if !ok || rules.GetString().GetMinLen() != 1 || len(rules.GetCel()) != 1 {
		t.Fatalf("rules of Book.title = %v", rules)
	}
}

func TestValidate(t *testing.T) {
	set := fetch(t, startUpstream(t, compile(t, "v1")))
	v, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, msg, json string
		want            []pair
	}{
		{"valid", "CreateBookRequest", validRequest, nil},
		{"valid without optional fields", "CreateBookRequest",
			`{"parent":"shelves/2","book":{"title":"x","isbn":"9780441013593","pages":1,"tags":["ab"]}}`, nil},
		{"required message", "CreateBookRequest", `{"parent":"shelves/1"}`,
			[]pair{{"book", "required"}}},
		{"string prefix", "CreateBookRequest", strings.Replace(validRequest, "shelves/1", "racks/1", 1),
			[]pair{{"parent", "string.prefix"}}},
		{"string min_len", "CreateBookRequest", withBook(t, `{"title":""}`),
			[]pair{{"book.title", "string.min_len"}}},
		{"field CEL rule", "CreateBookRequest", withBook(t, `{"title":"Dune "}`),
			[]pair{{"book.title", "title.trimmed"}}},
		{"string pattern", "CreateBookRequest", withBook(t, `{"isbn":"978-0441013593"}`),
			[]pair{{"book.isbn", "string.pattern"}}},
		{"int range low", "CreateBookRequest", withBook(t, `{"pages":0}`),
			[]pair{{"book.pages", "int32.gte_lte"}}},
		{"int range high", "CreateBookRequest", withBook(t, `{"pages":10001}`),
			[]pair{{"book.pages", "int32.gte_lte"}}},
		{"enum defined_only", "CreateBookRequest", withBook(t, `{"genre":7}`),
			[]pair{{"book.genre", "enum.defined_only"}}},
		{"repeated min_items", "CreateBookRequest", withBook(t, `{"tags":[]}`),
			[]pair{{"book.tags", "repeated.min_items"}}},
		{"repeated max_items", "CreateBookRequest", withBook(t, `{"tags":["aa","bb","cc","dd","ee","ff"]}`),
			[]pair{{"book.tags", "repeated.max_items"}}},
		{"repeated items", "CreateBookRequest", withBook(t, `{"tags":["sf","x","ok","y"]}`),
			[]pair{{"book.tags[1]", "string.min_len"}, {"book.tags[3]", "string.min_len"}}},
		{"map values", "CreateBookRequest", withBook(t, `{"ratings":{"bob":9}}`),
			[]pair{{`book.ratings["bob"]`, "int32.gte_lte"}}},
		{"message CEL rule", "CreateBookRequest",
			strings.Replace(validRequest, `"printYear":1990`, `"printYear":1960`, 1),
			[]pair{{"", "years.ordered"}}},
		{"every violation at once", "CreateBookRequest",
			`{"parent":"x","book":{"title":" ","isbn":"1","pages":-1,"genre":9,"tags":["a"]},` +
				`"publishYear":2,"printYear":1}`,
			[]pair{{"", "years.ordered"}, {"parent", "string.prefix"}, {"book.title", "title.trimmed"},
				{"book.isbn", "string.pattern"}, {"book.pages", "int32.gte_lte"},
				{"book.genre", "enum.defined_only"}, {"book.tags[0]", "string.min_len"}}},
		{"deep through cycle and map", "Chain",
			`{"next":{"links":{"a":{"books":[` + validBook + `,{"title":"","isbn":"9780441013593","pages":3,"tags":["ab"]}]}}}}`,
			[]pair{{`next.links["a"].books[1].title`, "string.min_len"}}},
		{"no rules", "Plain", `{"name":"","loop":{"next":{}}}`, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := pairs(t, v.Validate(fromJSON(t, set, c.msg, c.json)))
			if !slices.Equal(got, c.want) {
				t.Fatalf("violations\n got %v\nwant %v", got, c.want)
			}
		})
	}
}

func TestViolationMessages(t *testing.T) {
	set := fetch(t, startUpstream(t, compile(t, "v1")))
	v, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	got := v.Validate(fromJSON(t, set, "CreateBookRequest",
		strings.Replace(withBook(t, `{"title":" Dune"}`), `"parent":"shelves/1"`, `"publishYear":3,"printYear":2`, 1)))
	want := []Violation{
		{Rule: "years.ordered", Message: "print_year must not be before publish_year"},
		{Field: "parent", Rule: "string.prefix", Message: "does not have prefix `shelves/`"},
		{Field: "book.title", Rule: "title.trimmed", Message: "title must not start or end with a space"},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("violations\n got %q\nwant %q", got, want)
	}
}

func TestHas(t *testing.T) {
	set := fetch(t, startUpstream(t, compile(t, "v1")))
	v, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{
		"CreateBookRequest": true, // rules of its own
		"Book":              true,
		"Chain":             true, // none of its own: reaches Book through a map and a list
		"Link":              true,
		"Plain":             false, // reaches only Loop, a cycle without rules
		"Loop":              false,
	} {
		md := newMessage(t, set, name).Descriptor()
		for range 2 { // the second answer comes from the cache
			if got := v.Has(md); got != want {
				t.Errorf("Has(%s) = %v, want %v", name, got, want)
			}
		}
	}
	if v.Has(nil) {
		t.Error("Has(nil) = true")
	}
	if got := v.Validate(nil); got != nil {
		t.Errorf("Validate(nil) = %v", got)
	}
}

// A refreshed schema reuses the names of the old one; its rules must be
// the ones applied to messages built from its descriptors.
func TestRefreshedSchema(t *testing.T) {
	u := startUpstream(t, compile(t, "v1"))
	old := fetch(t, u)
	u.swap(t, compile(t, "v2")) // Book.title now needs 5 characters
	cur := fetch(t, u)
	if old.Digest == cur.Digest {
		t.Fatal("the refreshed schema has the old digest")
	}
	request := withBook(t, `{"title":"Dune"}`)
	oldV, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	curV, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	shared, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []pair{{"book.title", "string.min_len"}}
	for _, v := range []*Validator{oldV, shared} {
		if got := v.Validate(fromJSON(t, old, "CreateBookRequest", request)); got != nil {
			t.Fatalf("old schema: %v", got)
		}
	}
	// curV is the Validator built for the new set; shared has compiled the
	// old rules for descriptors of the same names and must not reuse them.
	for _, v := range []*Validator{curV, shared} {
		if got := pairs(t, v.Validate(fromJSON(t, cur, "CreateBookRequest", request))); !slices.Equal(got, want) {
			t.Fatalf("new schema: violations %v, want %v", got, want)
		}
	}
}

// Rules that cannot be evaluated fail closed with one violation naming the
// cause.
func TestBrokenRules(t *testing.T) {
	set := fetch(t, startUpstream(t, compile(t, "broken")))
	v, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, rule := range map[string]string{"Uncompilable": RuleCompileError, "Erring": RuleRuntimeError} {
		md := newMessage(t, set, name).Descriptor()
		if !v.Has(md) {
			t.Errorf("Has(%s) = false", name)
		}
		got := v.Validate(dynamicpb.NewMessage(md))
		if len(got) != 1 || got[0].Rule != rule || got[0].Field != "" || !strings.Contains(got[0].Message, name) {
			t.Errorf("Validate(%s) = %q, want one %s violation naming the message", name, got, rule)
		}
	}
	if got := v.Validate(fromJSON(t, set, "Erring", `{"labels":{"owner":"ana"}}`)); got != nil {
		t.Errorf("Validate(Erring with owner) = %q", got)
	}
}

// Rules left as unknown fields in the options (descriptors decoded without
// the buf.validate types) are found and enforced all the same.
func TestUntypedOptions(t *testing.T) {
	set := fetch(t, startUpstream(t, compile(t, "v1")))
	var fdps []*descriptorpb.FileDescriptorProto
	set.Files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		fdps = append(fdps, protodesc.ToFileDescriptorProto(fd))
		return true
	})
	raw, err := proto.Marshal(&descriptorpb.FileDescriptorSet{File: fdps})
	if err != nil {
		t.Fatal(err)
	}
	var fds descriptorpb.FileDescriptorSet
	if err := (proto.UnmarshalOptions{Resolver: new(protoregistry.Types)}).Unmarshal(raw, &fds); err != nil {
		t.Fatal(err)
	}
	files, err := protodesc.NewFiles(&fds)
	if err != nil {
		t.Fatal(err)
	}
	d, err := files.FindDescriptorByName("bouncer.vtest.v1.Book")
	if err != nil {
		t.Fatal(err)
	}
	md := d.(protoreflect.MessageDescriptor)
	if len(md.Fields().ByName("title").Options().ProtoReflect().GetUnknown()) == 0 {
		t.Fatal("the options of Book.title are typed; the test needs them unknown")
	}
	v, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !v.Has(md) {
		t.Fatal("Has(Book) = false with untyped options")
	}
	m := dynamicpb.NewMessage(md)
	m.Set(md.Fields().ByName("pages"), protoreflect.ValueOfInt32(0))
	got := pairs(t, v.Validate(m))
	want := []pair{{"title", "string.min_len"}, {"isbn", "string.pattern"}, {"pages", "int32.gte_lte"},
		{"tags", "repeated.min_items"}}
	if !slices.Equal(got, want) {
		t.Fatalf("violations\n got %v\nwant %v", got, want)
	}
}

// One Validator serves many goroutines, each first asking Has (which
// compiles) and then validating.
func TestConcurrent(t *testing.T) {
	set := fetch(t, startUpstream(t, compile(t, "v1")))
	v, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	valid := fromJSON(t, set, "CreateBookRequest", validRequest)
	invalid := fromJSON(t, set, "CreateBookRequest", withBook(t, `{"pages":0}`))
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for range 8 {
		wg.Go(func() {
			if !v.Has(valid.Descriptor()) {
				errs <- "Has = false"
			}
			for range 50 {
				if got := v.Validate(valid); got != nil {
					errs <- "valid message: " + got[0].Rule
					return
				}
				if got := v.Validate(invalid); len(got) != 1 {
					errs <- "invalid message: wrong violation count"
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// Predefined rules, declared as extensions of buf.validate's rule messages
// by the upstream's own files, are enforced when the Validator resolves
// extensions from the reflected descriptors, and fail closed otherwise.
func TestPredefinedRules(t *testing.T) {
	set := fetch(t, startUpstream(t, compile(t, "predefined")))
	v, err := New(set.Types)
	if err != nil {
		t.Fatal(err)
	}
	md := newMessage(t, set, "Label").Descriptor()
	if !v.Has(md) {
		t.Fatal("Has(Label) = false")
	}
	for _, c := range []struct {
		body string
		want []pair
	}{
		{`{"slug":"ok-slug","size":8}`, nil},
		{`{"slug":"two words","size":8}`, []pair{{"slug", "string.no_spaces"}}},
		{`{"slug":"fine","size":6}`, []pair{{"size", "int32.multiple_of"}}},
	} {
		if got := pairs(t, v.Validate(fromJSON(t, set, "Label", c.body))); !slices.Equal(got, c.want) {
			t.Errorf("Validate(%s) = %v, want %v", c.body, got, c.want)
		}
	}
	blind, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	got := blind.Validate(fromJSON(t, set, "Label", `{"slug":"ok","size":8}`))
	if len(got) != 1 || got[0].Rule != RuleCompileError {
		t.Errorf("without the upstream's extensions: %v, want one %s violation", got, RuleCompileError)
	}
}
