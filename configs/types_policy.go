package configs

// Policy is one named, reusable API policy: exactly one of its kinds is
// set. Routes and listeners list policies by name; they run in a fixed
// phase order whatever order they are listed in (docs/policies.md).
type Policy struct {
	JWT           *JWTPolicy           `yaml:"jwt" doc:"Authenticate with a JSON Web Token (RS, PS, ES, EdDSA; HS only with an explicit secret)."`
	APIKey        *APIKeyPolicy        `yaml:"api_key" doc:"Authenticate with an API key stored hashed in the config, each mapped to a consumer."`
	BasicAuth     *BasicAuthPolicy     `yaml:"basic_auth" doc:"Authenticate with HTTP Basic credentials checked against bcrypt hashes."`
	MTLS          *MTLSAuthPolicy      `yaml:"mtls" doc:"Authenticate with the verified client certificate of the connection (listener tls.client_auth)."`
	Introspection *IntrospectionPolicy `yaml:"introspection" doc:"Authenticate an opaque OAuth2 bearer token by asking the authorization server (RFC 7662), with caching."`
	ExtAuthz      *ExtAuthzPolicy      `yaml:"ext_authz" doc:"Ask an external HTTP service whether to allow each request."`
	Anonymous     *AnonymousPolicy     `yaml:"anonymous" doc:"Let requests without credentials through as an anonymous consumer, on a route that also lists authentication policies."`
	Authorize     *AuthorizePolicy     `yaml:"authorize" doc:"Require scopes, roles, claims or CEL expressions of the authenticated identity and the request."`
	RateLimit     *RateLimitPolicy     `yaml:"rate_limit" doc:"Limit requests per key (client address, header, consumer, claim, route, CEL) with one or more rates."`
	Cache         *CachePolicy         `yaml:"cache" doc:"Shared HTTP cache (RFC 9111) for GET and HEAD."`
	Compress      *CompressPolicy      `yaml:"compress" doc:"Compress responses (zstd, br, gzip) by Accept-Encoding, type and size."`
	CORS          *CORSPolicy          `yaml:"cors" doc:"Cross-origin resource sharing: preflights answered at the edge, CORS headers on responses."`
	IPFilter      *IPFilterPolicy      `yaml:"ip_filter" doc:"Allow or deny client addresses (CIDR lists)."`
	BodyLimit     *BodyLimitPolicy     `yaml:"body_limit" doc:"Refuse request bodies larger than a size (413)."`
	Headers       *HeadersPolicy       `yaml:"headers" doc:"Change request and response headers."`
}

// JWTPolicy verifies bearer tokens.
type JWTPolicy struct {
	JWKSURL            string            `yaml:"jwks_url" doc:"URL of the JSON Web Key Set; fetched at start, refreshed in the background and on an unknown key id (at most once per min_refresh_interval), kept across reloads."`
	KeyFiles           []string          `yaml:"key_files" doc:"PEM public keys or certificates, or JWKS JSON files."`
	Secret             string            `yaml:"secret" secret:"true" doc:"Shared secret for HS256/384/512; only when set, never together with jwks_url or key_files (prefer asymmetric keys)."`
	Algorithms         []string          `yaml:"algorithms" doc:"Accepted algorithms (default: every asymmetric one the keys support; HS* with secret). none is never accepted."`
	Issuers            []string          `yaml:"issuers" doc:"Accepted iss values (default: any)."`
	Audiences          []string          `yaml:"audiences" doc:"Accepted aud values: the token must name one of them (default: any)."`
	ClockSkew          Duration          `yaml:"clock_skew" default:"30s" doc:"Leeway for exp, nbf and iat."`
	RequireExp         bool              `yaml:"require_exp" default:"true" doc:"Refuse tokens without exp."`
	From               []TokenSource     `yaml:"from" doc:"Where the token is read, in order (default: the Authorization header with the Bearer scheme)."`
	ClaimsToHeaders    map[string]string `yaml:"claims_to_headers" doc:"Claim (dotted path for nested ones) to upstream request header; client-sent headers of those names are removed first."`
	Realm              string            `yaml:"realm" doc:"realm of the WWW-Authenticate challenge."`
	FetchTimeout       Duration          `yaml:"fetch_timeout" default:"5s" doc:"Time a JWKS fetch may take."`
	RefreshInterval    Duration          `yaml:"refresh_interval" default:"10m" doc:"How often the JWKS is fetched again."`
	MinRefreshInterval Duration          `yaml:"min_refresh_interval" default:"30s" doc:"Least time between fetches caused by tokens with an unknown key id."`
	CacheSize          int               `yaml:"cache_size" default:"10000" doc:"Verified tokens remembered (until their exp, at most cache_ttl), so a repeated token costs a map lookup instead of a signature check (0: no cache)."`
	CacheTTL           Duration          `yaml:"cache_ttl" default:"60s" doc:"Longest a verified token is remembered; a key removed from the JWKS stops verifying cached tokens after at most this."`
}

// TokenSource is one place a token may be read from; set exactly one.
type TokenSource struct {
	Header string `yaml:"header" doc:"Header name; with Authorization the Bearer scheme is required."`
	Prefix string `yaml:"prefix" doc:"Authentication scheme before the token in the header value, such as Token (Authorization uses Bearer; other headers none)."`
	Cookie string `yaml:"cookie" doc:"Cookie name."`
	Query  string `yaml:"query" doc:"Query parameter name."`
}

// TokenPlace is where an opaque token may be read; set exactly one. A
// header other than Authorization carries the bare token.
type TokenPlace struct {
	Header string `yaml:"header" doc:"Header name; with Authorization the Bearer scheme is required."`
	Cookie string `yaml:"cookie" doc:"Cookie name."`
	Query  string `yaml:"query" doc:"Query parameter name (removed before the request goes on)."`
}

// APIKeyPolicy authenticates API keys.
type APIKeyPolicy struct {
	Header string       `yaml:"header" default:"X-API-Key" doc:"Header carrying the key."`
	Query  string       `yaml:"query" doc:"Query parameter carrying the key (removed before the request goes on); empty: header only."`
	Keys   []APIKeyItem `yaml:"keys" required:"true" doc:"The accepted keys."`
}

// APIKeyItem is one accepted key.
type APIKeyItem struct {
	Consumer string            `yaml:"consumer" required:"true" doc:"Consumer the key belongs to."`
	Hash     string            `yaml:"hash" secret:"true" required:"true" doc:"sha256:<hex> of the key (bouncer hash-key prints it); the key itself is never stored."`
	Metadata map[string]string `yaml:"metadata" doc:"Consumer metadata, readable by authorize expressions."`
}

// BasicAuthPolicy authenticates user names and passwords.
type BasicAuthPolicy struct {
	Realm string      `yaml:"realm" default:"bouncer" doc:"realm of the WWW-Authenticate challenge."`
	Users []BasicUser `yaml:"users" required:"true" doc:"Accepted users."`
}

// BasicUser is one user of basic_auth.
type BasicUser struct {
	Name     string            `yaml:"name" required:"true" doc:"User name."`
	Hash     string            `yaml:"hash" secret:"true" required:"true" doc:"bcrypt hash of the password ($2a$, $2b$ or $2y$)."`
	Consumer string            `yaml:"consumer" doc:"Consumer name (default: the user name)."`
	Metadata map[string]string `yaml:"metadata" doc:"Consumer metadata."`
}

// MTLSAuthPolicy turns the client certificate into an identity.
type MTLSAuthPolicy struct {
	Consumers []MTLSConsumer `yaml:"consumers" doc:"Certificates mapped to consumers; a verified certificate not listed is refused unless allow_unlisted."`
	Unlisted  bool           `yaml:"allow_unlisted" default:"false" doc:"Accept any verified certificate, as the consumer named by its SPIFFE ID or else its subject."`
}

// MTLSConsumer maps a client certificate to a consumer; set one matcher.
type MTLSConsumer struct {
	Name     string            `yaml:"name" required:"true" doc:"Consumer name."`
	SPIFFEID string            `yaml:"spiffe_id" doc:"The certificate's SPIFFE ID (spiffe://...)."`
	Subject  string            `yaml:"subject" doc:"The certificate's subject, as in the access log."`
	SHA256   string            `yaml:"sha256" doc:"The certificate's SHA-256 fingerprint (hex)."`
	Metadata map[string]string `yaml:"metadata" doc:"Consumer metadata."`
}

// IntrospectionPolicy checks opaque tokens with the authorization server.
type IntrospectionPolicy struct {
	URL              string       `yaml:"url" required:"true" doc:"The introspection endpoint."`
	ClientID         string       `yaml:"client_id" doc:"Client id used to authenticate to the endpoint (HTTP Basic)."`
	ClientSecret     string       `yaml:"client_secret" secret:"true" doc:"Its secret."`
	TokenTypeHint    string       `yaml:"token_type_hint" secret:"false" doc:"token_type_hint sent with each call (such as access_token)."`
	Timeout          Duration     `yaml:"timeout" default:"2s" doc:"Time one call may take; a failed call refuses the request with 503."`
	CacheTTL         Duration     `yaml:"cache_ttl" default:"60s" doc:"How long an active answer is reused (never past the token's exp)."`
	NegativeCacheTTL Duration     `yaml:"negative_cache_ttl" default:"10s" doc:"How long an inactive answer is reused."`
	CacheSize        int          `yaml:"cache_size" default:"10000" doc:"Answers remembered."`
	From             []TokenPlace `yaml:"from" doc:"Where the token is read (default: Authorization: Bearer)."`
	Audiences        []string     `yaml:"audiences" doc:"Required aud values (any of them)."`
	Issuer           string       `yaml:"issuer" doc:"Required iss."`
}

// ExtAuthzPolicy asks an external service.
type ExtAuthzPolicy struct {
	URL             string   `yaml:"url" required:"true" doc:"The authorization service; each request is asked with a GET carrying the selected headers and X-Forwarded-Method, -Uri, -Host and -For."`
	Timeout         Duration `yaml:"timeout" default:"1s" doc:"Time the service may take."`
	ForwardHeaders  []string `yaml:"forward_headers" default:"[Authorization,Cookie]" doc:"Request headers sent to the service."`
	UpstreamHeaders []string `yaml:"upstream_headers" doc:"Headers of an allowing answer copied onto the request sent upstream."`
	ClientHeaders   []string `yaml:"client_headers" doc:"Headers of a denying answer copied onto the response to the client."`
	ConsumerHeader  string   `yaml:"consumer_header" doc:"Header of an allowing answer that names the consumer."`
	CacheKey        []string `yaml:"cache_key" secret:"false" doc:"Request headers whose values, with the request's method, scheme, host and URI, key a cache of answers (empty: no cache)."`
	CacheTTL        Duration `yaml:"cache_ttl" default:"10s" doc:"How long a cached answer is reused."`
	FailOpen        bool     `yaml:"fail_open" default:"false" doc:"Allow requests when the service cannot be reached (default: refuse with 503)."`
}

// AnonymousPolicy names the consumer of unauthenticated requests.
type AnonymousPolicy struct {
	Consumer string `yaml:"consumer" default:"anonymous" doc:"Consumer name given to requests without credentials."`
}

// AuthorizePolicy is a route's authorization rules; all must hold.
type AuthorizePolicy struct {
	Scopes      []string            `yaml:"scopes" doc:"Scopes the identity must all have."`
	Roles       []string            `yaml:"roles" doc:"Roles of which the identity must have one."`
	RolesClaim  string              `yaml:"roles_claim" default:"roles" doc:"Claim (dotted path) holding the roles."`
	Claims      map[string][]string `yaml:"claims" doc:"Claims (dotted paths) that must equal one of the listed values."`
	Expressions []string            `yaml:"expressions" doc:"CEL expressions over request and identity that must all be true (see docs/policies.md)."`
}

// RateLimitPolicy limits requests per key.
type RateLimitPolicy struct {
	Key      string      `yaml:"key" secret:"false" default:"client_ip" doc:"What is counted: client_ip, route (one bucket per route listing the policy), consumer, header:NAME, claim:NAME, or cel:EXPRESSION (a string; requests for which it is empty are not limited)."`
	Limits   []RateLimit `yaml:"limits" required:"true" doc:"Rates that must all allow a request."`
	Store    string      `yaml:"store" default:"local" enum:"local,redis" doc:"local: counters in this process; redis: shared by every instance through the top-level redis server."`
	FailOpen bool        `yaml:"fail_open" default:"false" doc:"With store redis: admit requests when Redis cannot be reached (default: refuse with 503)."`
	Lease    int         `yaml:"lease" default:"0" doc:"With store redis: take this many tokens per Redis call and spend them locally (fewer round trips; at most this many over the limit per window and instance)."`
	MaxKeys  int         `yaml:"max_keys" default:"131072" doc:"With store local: counters kept at most (the oldest are dropped)."`
}

// RateLimit is one rate.
type RateLimit struct {
	Name     string   `yaml:"name" doc:"Name in the RateLimit headers and the counter keys (default: limit-N)."`
	Requests int64    `yaml:"requests" required:"true" doc:"Requests allowed per period."`
	Per      Duration `yaml:"per" required:"true" doc:"The period, such as 1s, 1m, 24h."`
	Burst    int64    `yaml:"burst" default:"0" doc:"Requests allowed at once (0: requests)."`
}

// CachePolicy caches responses.
type CachePolicy struct {
	Store              string   `yaml:"store" default:"memory" enum:"memory,redis" doc:"memory: in this process, bounded by max_bytes; redis: shared by instances through the top-level redis server."`
	MaxBytes           Size     `yaml:"max_bytes" default:"256MiB" doc:"With store memory: total size of the entries (least recently used are dropped)."`
	MaxObjectBytes     Size     `yaml:"max_object_bytes" default:"8MiB" doc:"Larger responses are passed on but not stored."`
	KeyHeaders         []string `yaml:"key_headers" doc:"Request headers added to the cache key."`
	KeyQuery           []string `yaml:"key_query" doc:"Only these query parameters are part of the key (sorted)."`
	KeyQueryExclude    []string `yaml:"key_query_exclude" doc:"These query parameters are left out of the key."`
	IgnoreQuery        bool     `yaml:"ignore_query" default:"false" doc:"The query is left out of the key."`
	CacheAuthenticated bool     `yaml:"cache_authenticated" default:"false" doc:"Cache responses to authenticated requests too, keyed by user (method, consumer, subject); requests whose identity names no single user still bypass it (default: they bypass the cache)."`
	MaxHeuristic       Duration `yaml:"max_heuristic" default:"24h" doc:"Cap of heuristic freshness (10% of the age of Last-Modified) for responses without explicit freshness."`
}

// CompressPolicy compresses responses.
type CompressPolicy struct {
	Encodings    []string `yaml:"encodings" default:"[zstd,br,gzip]" enum:"zstd,br,gzip" doc:"Encodings offered, in order of preference."`
	MinBytes     Size     `yaml:"min_bytes" default:"1KiB" doc:"Smaller responses are sent as they are."`
	ContentTypes []string `yaml:"content_types" doc:"Media types compressed (default: text/*, JSON, JavaScript, XML, SVG); type/* matches a whole type."`
	Level        int      `yaml:"level" default:"0" doc:"Compression level for every encoding (0: each encoding's balanced default)."`
}

// CORSPolicy answers cross-origin requests.
type CORSPolicy struct {
	AllowOrigins        []string `yaml:"allow_origins" required:"true" doc:"Origins allowed: exact (https://app.example.com), wildcard subdomains (https://*.example.com), or *."`
	AllowMethods        []string `yaml:"allow_methods" doc:"Methods allowed beyond GET, HEAD and POST; * allows any."`
	AllowHeaders        []string `yaml:"allow_headers" doc:"Request headers allowed; * allows any."`
	ExposeHeaders       []string `yaml:"expose_headers" doc:"Response headers scripts may read."`
	AllowCredentials    bool     `yaml:"allow_credentials" default:"false" doc:"Allow cookies and credentials (not with origin *)."`
	MaxAge              Duration `yaml:"max_age" default:"0s" doc:"How long browsers may cache a preflight answer."`
	AllowPrivateNetwork bool     `yaml:"allow_private_network" default:"false" doc:"Answer Private Network Access preflights."`
}

// IPFilterPolicy allows or denies client addresses.
type IPFilterPolicy struct {
	Allow []string `yaml:"allow" doc:"CIDRs or addresses allowed; with any, every other address is refused."`
	Deny  []string `yaml:"deny" doc:"CIDRs or addresses refused (deny wins over allow)."`
}

// BodyLimitPolicy bounds request bodies.
type BodyLimitPolicy struct {
	MaxBytes Size `yaml:"max_bytes" required:"true" doc:"Largest request body accepted; larger ones get 413 (by Content-Length before the body is read, or when the streamed body passes it)."`
}

// HeadersPolicy changes headers.
type HeadersPolicy struct {
	Request  *HeaderChanges `yaml:"request" doc:"Changes to the request sent upstream."`
	Response *HeaderChanges `yaml:"response" doc:"Changes to the response sent to the client."`
}

// RedisServer is a Redis server shared by policies (rate limits, cache).
type RedisServer struct {
	Address  string   `yaml:"address" required:"true" doc:"host:port of the Redis server."`
	Username string   `yaml:"username" doc:"ACL user name."`
	Password string   `yaml:"password" secret:"true" doc:"Password."`
	DB       int      `yaml:"db" default:"0" doc:"Database number."`
	Prefix   string   `yaml:"prefix" default:"'bouncer:'" doc:"Prefix of every key written."`
	Timeout  Duration `yaml:"timeout" default:"50ms" doc:"Time one call may take before the policy's failure behaviour applies."`
}
