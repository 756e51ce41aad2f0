package configs

// SplitAction chooses the upstream of a proxy route per request: rules by
// header or cookie first, then a sticky hash or a weighted draw.
type SplitAction struct {
	Weights   []SplitWeight `yaml:"weights" required:"true" doc:"Upstreams and their shares (weights 0 to 10000; 0 drains one). The route's proxy.upstream must be one of them; the proxy's timeouts and retries apply to all."`
	Rules     []SplitRule   `yaml:"rules" doc:"Checked in order before the weights: the first rule that matches picks its upstream (blue/green, beta users)."`
	Sticky    string        `yaml:"sticky" doc:"Keep each user on one side by a hash of: client_ip, consumer, header:NAME or cookie:NAME (empty: a random draw per request)."`
	Salt      string        `yaml:"salt" secret:"false" doc:"Mixed into the sticky hash, so two splits place the same user independently."`
	PinCookie *PinCookie    `yaml:"pin_cookie" doc:"Remember the upstream drawn for a client without a sticky key in a signed cookie."`
}

// SplitWeight is one side of a split.
type SplitWeight struct {
	Upstream string `yaml:"upstream" required:"true" doc:"Name of an upstream."`
	Weight   int    `yaml:"weight" required:"true" doc:"Share of the requests, relative to the others."`
}

// SplitRule routes by a header or cookie; set header or cookie.
type SplitRule struct {
	Header   string `yaml:"header" doc:"Header name."`
	Cookie   string `yaml:"cookie" doc:"Cookie name."`
	Value    string `yaml:"value" doc:"Exact value (with neither value nor regex: present)."`
	Regex    string `yaml:"regex" doc:"RE2 expression the whole value must match."`
	Upstream string `yaml:"upstream" required:"true" doc:"Upstream for matching requests; must be one of weights."`
}

// PinCookie is the cookie that pins a client to the side it drew.
type PinCookie struct {
	Name   string   `yaml:"name" default:"bouncer-split" doc:"Cookie name."`
	TTL    Duration `yaml:"ttl" default:"24h" doc:"Cookie lifetime."`
	Key    string   `yaml:"key" secret:"true" required:"true" doc:"Secret (at least 16 bytes) that signs the cookie, so a client cannot pick its side."`
	Secure bool     `yaml:"secure" default:"false" doc:"Mark the cookie Secure (HTTPS only)."`
}

// MirrorAction copies requests to a shadow upstream; its answers are
// discarded and never delay the real one.
type MirrorAction struct {
	Upstream     string   `yaml:"upstream" required:"true" doc:"The shadow upstream."`
	Percent      float64  `yaml:"percent" default:"100" doc:"Share of requests copied (0 to 100)."`
	MaxBodyBytes Size     `yaml:"max_body_bytes" default:"64KiB" doc:"Requests with larger bodies are not copied."`
	Timeout      Duration `yaml:"timeout" default:"5s" doc:"Time a shadow request may take."`
	MaxInFlight  int      `yaml:"max_in_flight" default:"64" doc:"Shadow requests at once; more are dropped (and counted)."`
}

// VersionsAction picks the upstream by API version and marks old versions
// deprecated.
type VersionsAction struct {
	From              string       `yaml:"from" default:"path" doc:"Where the version is read: path (the segment after the route's match.prefix, or the first one: /v1/...), header:NAME or query:NAME."`
	StripPrefix       bool         `yaml:"strip_prefix" default:"false" doc:"With from: path, remove the version segment before proxying."`
	Default           string       `yaml:"default" doc:"Version used when a request names none (empty: 404)."`
	RejectAfterSunset bool         `yaml:"reject_after_sunset" default:"false" doc:"Answer 410 to a version past its sunset date (default: serve it, with the headers)."`
	Versions          []APIVersion `yaml:"versions" required:"true" doc:"The versions served."`
}

// APIVersion is one API version.
type APIVersion struct {
	Name            string `yaml:"name" required:"true" doc:"Version name as requests give it: v1, 2, 2024-06-01."`
	Upstream        string `yaml:"upstream" required:"true" doc:"Upstream serving it."`
	Deprecated      string `yaml:"deprecated" doc:"Date (2006-01-02 or RFC 3339) the version was deprecated: responses carry Deprecation (RFC 9745)."`
	Sunset          string `yaml:"sunset" doc:"Date it goes away: responses carry Sunset (RFC 8594)."`
	DeprecationLink string `yaml:"deprecation_link" doc:"URL of the deprecation notice (Link rel=deprecation)."`
	SunsetLink      string `yaml:"sunset_link" doc:"URL about the sunset (Link rel=sunset)."`
}

// AggregateAction answers with one JSON object composed from several
// calls to upstreams and transcode routes.
type AggregateAction struct {
	Calls            []AggregateCall `yaml:"calls" required:"true" doc:"The calls; independent ones run in parallel, a call that uses another's result runs after it."`
	Merge            string          `yaml:"merge" default:"keys" enum:"keys,merge" doc:"keys: each result under its call's name; merge: the results' top-level fields merged in call order."`
	OnError          string          `yaml:"on_error" default:"fail" enum:"fail,partial" doc:"fail: a failed call fails the response (502 naming it); partial: 200 with what succeeded and an _errors object."`
	Timeout          Duration        `yaml:"timeout" default:"10s" doc:"Time for the whole response."`
	MaxResponseBytes Size            `yaml:"max_response_bytes" default:"1MiB" doc:"Largest answer of one call."`
	BreakerThreshold int             `yaml:"breaker_threshold" default:"5" doc:"Consecutive failures of a call that open its circuit breaker (0: none)."`
	BreakerCooldown  Duration        `yaml:"breaker_cooldown" default:"10s" doc:"How long an open breaker fails the call at once before one trial."`
}

// AggregateCall is one call of an aggregate route; set upstream or route.
type AggregateCall struct {
	Name     string            `yaml:"name" required:"true" doc:"Key of the result, and how later calls refer to it ({calls.NAME.body.field})."`
	Upstream string            `yaml:"upstream" doc:"Upstream to call over HTTP."`
	Route    string            `yaml:"route" doc:"Name of a transcode route to call (REST/JSON to gRPC): path names one of its bindings."`
	Method   string            `yaml:"method" default:"GET" doc:"HTTP method."`
	Path     string            `yaml:"path" required:"true" doc:"Path template: {path.VAR} (the route template's variables), {query.NAME}, {header.NAME}, {identity.consumer}, {identity.claims.NAME}, {calls.NAME.body.FIELD}."`
	Query    map[string]string `yaml:"query" doc:"Query parameters (templates)."`
	Headers  map[string]string `yaml:"headers" doc:"Request headers (templates)."`
	Body     string            `yaml:"body" doc:"JSON body template."`
	After    []string          `yaml:"after" doc:"Calls this one waits for, beyond those its templates use."`
	Timeout  Duration          `yaml:"timeout" default:"0s" doc:"Time for this call (0: the route's timeout)."`
	Retries  int               `yaml:"retries" default:"0" doc:"Retries after a 5xx or connection failure (idempotent methods only)."`
	Optional bool              `yaml:"optional" default:"false" doc:"Its failure never fails the response; it is reported under _errors."`
	Fields   []string          `yaml:"fields" doc:"Keep only these fields of its JSON result (dotted paths)."`
}
