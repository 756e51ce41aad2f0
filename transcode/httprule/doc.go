// Package httprule parses google.api.http path templates and routes
// escaped request paths to the values registered for them.
//
// # Templates
//
// The grammar is the one of google/api/http.proto:
//
//	Template = "/" Segments [ Verb ] ;
//	Segments = Segment { "/" Segment } ;
//	Segment  = "*" | "**" | LITERAL | Variable ;
//	Variable = "{" FieldPath [ "=" Segments ] "}" ;
//	FieldPath = IDENT { "." IDENT } ;
//	Verb     = ":" LITERAL ;
//
// "/" alone is the root template. {var} means {var=*}. "**" may only be
// the last segment (before the verb). Variables do not nest and a field
// path names at most one variable per template. A LITERAL is made of
// unreserved characters (RFC 3986 section 2.3), the sub-delims other than
// "*" and percent-escapes; it never holds '/', '{', '}' or ':'. Literals are
// kept in a normal form: escapes of unreserved characters are decoded and
// the hex digits of the other escapes are upper-cased, so "b%6Fok" and
// "book" are the same literal.
//
// # Matching
//
// A Router is compiled once by a Builder and then only read, so it is safe
// for concurrent use. Lookup takes the escaped path (url.URL.EscapedPath)
// and splits it on '/' only: "%2F" inside a segment never splits it.
//
//   - At each segment a literal child is tried first, then the
//     single-segment wildcard ("*" or a variable over it), then "**",
//     backtracking when a branch fails, so precedence never depends on the
//     order in which templates were added.
//   - "*" matches one non-empty segment. "**" matches the rest of the path:
//     zero or more segments, empty ones included.
//   - A literal matches a path segment whose escapes of unreserved
//     characters, once decoded, give the literal byte for byte (hex digits
//     of other escapes compare case-insensitively).
//   - Trailing slashes matter: "/v1/shelves/" does not match the template
//     "/v1/shelves" (its last segment is empty), only a template ending in
//     "**" takes it.
//   - A template with verb V matches a path whose last segment ends with
//     ":V"; the verb is cut off before the segments are matched. A path that
//     ends with a registered verb is tried against that verb's templates
//     first and then as a plain path, where the ":V" is part of the last
//     segment.
//
// Variable values are decoded when matched: a single-segment variable is
// fully percent-decoded (so "%2F" gives '/'), a variable that may span
// segments ("**" or several segments, as in {name=shelves/*/books/*})
// keeps "%2F" and "%2f" as they are and decodes every other escape.
package httprule
