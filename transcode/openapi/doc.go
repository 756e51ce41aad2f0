// Package openapi describes a transcode route as an OpenAPI 3.1 document
// and serves a small, self-contained page that renders it.
//
// Build takes the route's bindings (one Operation per HTTP method and path
// template) and answers deterministic JSON: paths sorted, schemas named by
// their full proto names, properties in field order, so two builds of the
// same bindings are byte for byte equal and can be cached or diffed.
//
// # Paths
//
// A template becomes an OpenAPI path with one path parameter per variable,
// named by the field path as written: /v1/{name=shelves/*/books/*} becomes
// /v1/{name}, and the parameter's schema pattern,
// ^shelves/[^/]+/books/[^/]+$, gives the accepted form. OpenAPI path
// parameters cannot contain '/': a variable over several segments (or
// "**") has no exact OpenAPI form, so, as other generators do, it is one
// parameter whose description says it spans segments, marked with the
// extension x-multi-segment. Its '/' must be sent as is: Bouncer splits
// paths on '/' before matching, so a client that escapes it as %2F does
// not reach the binding. An anonymous "*" or "**" outside a variable is a
// parameter too, named by its position (_segment2 for the second segment);
// its value is matched but not passed to the method. Two templates that
// would give the same OpenAPI path (/v1/{name=shelves/*} and
// /v1/{name=shelves/*/books/*}) are told apart by suffixing the later
// one's parameter names (/v1/{name_1}); x-field-path keeps the field.
//
// Fields of the request bound neither by the path nor by the body are
// query parameters (none when the body is "*"), named by dotted field
// paths up to three fields deep; maps, repeated messages and well-known
// types without a text form are left out, as the query decoder refuses
// them.
//
// # Schemas
//
// components.schemas holds one schema per message and enum type reached,
// keyed by full name, linked by $ref (so recursive types are finite), in
// the proto3 JSON mapping: 64-bit integers are strings, floats numbers or
// "NaN"/"Infinity"/"-Infinity", bytes base64 strings, enums their value
// names, maps objects, well-known types their JSON forms. Comments in the
// descriptors' source info become descriptions; google.api.field_behavior
// REQUIRED fields are listed in required and OUTPUT_ONLY ones are readOnly.
//
// HTTP methods outside OpenAPI's fixed set (a google.api.http custom
// kind) are listed under the path item extension x-additionalOperations,
// keyed by method, the way OpenAPI 3.2 spells it.
package openapi
