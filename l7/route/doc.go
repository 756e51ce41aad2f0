// Package route compiles the match conditions of HTTP routes into an
// immutable table at config load and finds the route for a request.
//
// Compile checks every route and reports all problems at once; the
// resulting Table is read-only and safe for concurrent use, so a reload
// compiles a new one and swaps it in whole. Match does not allocate and
// takes about the same time for ten routes as for ten thousand: it looks
// the host up in maps, the path in a map of exact paths and then walks a
// radix tree of literal path prefixes once, so it only ever tests routes
// whose host and literal prefix already fit the request.
//
// The server runs NormalizePath on the request path first, so that
// /admin/../secret, //secret, /%2e%2e/secret and /a/./b reach the route
// that guards the path they stand for. Paths, prefixes and the literal
// parts of templates in the config must be in that normal form too;
// Compile says which are not and how to write them.
//
// # Matching
//
// Hosts are exact (api.example.com) or wildcards (*.example.com). A
// wildcard matches any host that ends in its suffix, with one or more
// labels before it (a.example.com, a.b.example.com), but not the bare
// example.com, as in Envoy; only a host name (labels of letters, digits,
// "-" and "_") matches one, so evil.test#.example.com matches no wildcard.
// Hosts ignore case, the port and a trailing dot.
//
// The path condition is one of: path (exact), prefix (a string prefix:
// /api matches /api, /api/x and /apix), template or regex. A template is
// literal segments and variables: {name}, {name=*} and * match one
// non-empty segment; ** and {name=**} match the rest of the path, zero or
// more segments, and come last, so /admin/** matches /admin, /admin/ and
// /admin/a/b. A regex is RE2 and must match the whole normalized path.
//
// Methods compare without regard to case. Header and query conditions
// test presence ("present", the default), absence (present: false), an
// exact value or an RE2 regex the whole value must match; a header or
// parameter that appears several times matches if any of its values does.
// Query names and values are compared form-decoded. All conditions of a
// route must hold.
//
// # Precedence
//
// When several routes match, the most specific wins. The order is fixed
// and does not depend on the order of the config, save for the last rule:
//
//  1. Host: routes listing the exact host, then routes whose wildcard
//     suffix is longest, then routes without hosts. Each group is tried in
//     full before the next: if no route of the exact host matches the
//     rest of the request, the wildcard routes get their turn.
//  2. Path, within a host group: an exact path first. Then the route
//     whose literal prefix is longest: a prefix is all literal, a template
//     up to its first variable (/v1/{id}/x: "/v1/"; /v1/** has "/v1", as
//     it also matches /v1), a regex up to its first operator (^/v1/[0-9]+:
//     "/v1/"). At equal length a template beats a prefix, and a prefix a
//     regex. A route without a path condition comes last.
//  3. More conditions beat fewer: each header and query condition counts
//     one, and so does a method list.
//  4. The route written first in the config.
//
// A template without variables and a regex that is plain text are exact
// paths. Two routes with the same hosts and conditions are an error, since
// the second could never match.
package route
