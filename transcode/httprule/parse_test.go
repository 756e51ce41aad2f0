package httprule

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseValid(t *testing.T) {
	tests := []struct {
		in    string
		canon string
		verb  string
		vars  []Var
	}{
		{in: "/", canon: "/"},
		{in: "/v1", canon: "/v1"},
		{in: "/v1/shelves/*", canon: "/v1/shelves/*"},
		{in: "/v1/**", canon: "/v1/**"},
		{in: "/**", canon: "/**"},
		{in: "/v1/{name}", canon: "/v1/{name}", vars: []Var{{FieldPath: "name"}}},
		{in: "/v1/{name=*}", canon: "/v1/{name}", vars: []Var{{FieldPath: "name"}}},
		{in: "/v1/{book.name=shelves/*/books/*}", canon: "/v1/{book.name=shelves/*/books/*}",
			vars: []Var{{FieldPath: "book.name", Multi: true}}},
		{in: "/v1/{name=**}", canon: "/v1/{name=**}", vars: []Var{{FieldPath: "name", Multi: true}}},
		{in: "/v1/{name=fixed}", canon: "/v1/{name=fixed}", vars: []Var{{FieldPath: "name"}}},
		{in: "/v1/{name=shelves/**}:undelete", canon: "/v1/{name=shelves/**}:undelete", verb: "undelete",
			vars: []Var{{FieldPath: "name", Multi: true}}},
		{in: "/v1/shelves/{shelf}/books/{book_id}", canon: "/v1/shelves/{shelf}/books/{book_id}",
			vars: []Var{{FieldPath: "shelf"}, {FieldPath: "book_id"}}},
		{in: "/v1/{a}/{b.c_d2=x/*}/**:do", canon: "/v1/{a}/{b.c_d2=x/*}/**:do", verb: "do",
			vars: []Var{{FieldPath: "a"}, {FieldPath: "b.c_d2", Multi: true}}},
		{in: "/v1/*:cancel", canon: "/v1/*:cancel", verb: "cancel"},
		{in: "/v1/b%6Fok", canon: "/v1/book"},
		{in: "/v1/a%2fb%7e", canon: "/v1/a%2Fb~"},
		{in: "/v1/a-b.c_d~e!$&'()+,;=", canon: "/v1/a-b.c_d~e!$&'()+,;="},
		{in: "/v1/x:b%6Fok", canon: "/v1/x:book", verb: "book"},
		{in: "/_/{A_b}", canon: "/_/{A_b}", vars: []Var{{FieldPath: "A_b"}}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			tmpl, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := tmpl.String(); got != tt.canon {
				t.Errorf("String() = %q, want %q", got, tt.canon)
			}
			if got := tmpl.Verb(); got != tt.verb {
				t.Errorf("Verb() = %q, want %q", got, tt.verb)
			}
			if got := tmpl.Vars(); !reflect.DeepEqual(got, append([]Var{}, tt.vars...)) {
				t.Errorf("Vars() = %+v, want %+v", got, tt.vars)
			}
			again, err := Parse(tmpl.String())
			if err != nil || again.String() != tmpl.String() {
				t.Errorf("reparse of %q: %v, %v", tmpl.String(), again, err)
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	tests := []struct {
		in     string
		offset int
		reason string
	}{
		{"", 0, "must start with '/'"},
		{"v1/x", 0, "must start with '/'"},
		{"//", 1, "empty segment"},
		{"/v1/", 4, "empty segment"},
		{"/v1//x", 4, "empty segment"},
		{"/:verb", 1, "empty segment"},
		{"/v1/:verb", 4, "empty segment"},
		{"/v1:", 4, "empty verb"},
		{"/v1/x:a:b", 7, "unexpected ':'"},
		{"/v1/x:a/b", 7, "unexpected '/'"},
		{"/v1/**/x", 7, "'**' must be the last segment"},
		{"/v1/{a=**}/x", 11, "'**' must be the last segment"},
		{"/v1/{a=**/x}", 10, "'**' must be the last segment"},
		{"/v1/{a={b}}", 7, "nested variable"},
		{"/v1/{a}/{a}", 9, `variable "a" appears twice`},
		{"/v1/{a.b}/{a.b=x/*}", 11, `variable "a.b" appears twice`},
		{"/v1/{a", 4, `variable "a" is not closed`},
		{"/v1/{a=x", 4, `variable "a" is not closed`},
		{"/v1/{a=x:y}", 8, `expected '}' to close variable "a"`},
		{"/v1/{}", 5, "expected a field name"},
		{"/v1/{1a}", 5, "expected a field name"},
		{"/v1/{a.}", 7, "expected a field name"},
		{"/v1/{a..b}", 7, "expected a field name"},
		{"/v1/{a=}", 7, "empty segment"},
		{"/v1/{a-b}", 6, "expected '}'"},
		{"/v1/x{a}", 5, "a variable must be a whole segment"},
		{"/v1/{a}x", 7, "a variable must be a whole segment"},
		{"/v1/*x", 4, "a wildcard must be a whole segment"},
		{"/v1/***", 4, "a wildcard must be a whole segment"},
		{"/v1/x*", 5, `'*' may not appear in a literal`},
		{"/v1/x}", 5, "'}' without a variable to close"},
		{"/v1/a b", 5, `' ' may not appear in a literal`},
		{"/v1/a@b", 5, `'@' may not appear in a literal`},
		{"/v1/%zz", 4, "malformed percent-escape"},
		{"/v1/a%4", 5, "malformed percent-escape"},
		{"/v1/x:a%", 7, "malformed percent-escape"},
		{"/v1/é", 4, "may not appear in a literal"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := Parse(tt.in)
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%q) error = %v, want a *ParseError", tt.in, err)
			}
			if pe.Offset != tt.offset || !strings.Contains(pe.Reason, tt.reason) {
				t.Errorf("Parse(%q) = offset %d %q, want offset %d containing %q", tt.in, pe.Offset, pe.Reason, tt.offset, tt.reason)
			}
			if !strings.Contains(err.Error(), tt.reason) || !strings.HasPrefix(err.Error(), "httprule: template ") {
				t.Errorf("Error() = %q", err.Error())
			}
		})
	}
}

// TestVarsIsACopy checks that a caller cannot change a parsed template.
func TestVarsIsACopy(t *testing.T) {
	tmpl, err := Parse("/v1/{name}")
	if err != nil {
		t.Fatal(err)
	}
	tmpl.Vars()[0].FieldPath = "changed"
	if got := tmpl.Vars()[0].FieldPath; got != "name" {
		t.Fatalf("Vars()[0].FieldPath = %q after changing a copy", got)
	}
}
