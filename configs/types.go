// Package configs holds Bouncer's typed configuration: the schema, a strict
// YAML decoder that reports file, line and key path, defaults, and Validate.
//
// Every exported field carries a `yaml` tag (the key name) and a `doc` tag
// (one line for docs/config.md and configs/schema.json). A test keeps the
// docs, the schema and these types in step.
package configs

import "time"

// Config is one whole configuration file.
type Config struct {
	Admin     Admin               `yaml:"admin" doc:"The admin listener: health, metrics, config and upstream state."`
	Log       Log                 `yaml:"log" doc:"Process and access logging."`
	Server    Server              `yaml:"server" doc:"Settings shared by every listener."`
	Listeners []Listener          `yaml:"listeners" doc:"Sockets Bouncer accepts connections on."`
	Routes    []Route             `yaml:"routes" doc:"HTTP routes; the most specific match wins (see docs/config.md#routing)."`
	L4Routes  []L4Route           `yaml:"l4_routes" doc:"TCP and UDP routes, chosen per connection after one peek (server name, ALPN, port, client address); the most specific match wins."`
	Upstreams map[string]Upstream `yaml:"upstreams" doc:"Named groups of backend endpoints, referenced by routes."`
	Policies  map[string]Policy   `yaml:"policies" doc:"Named API policies (authentication, authorization, rate limits, cache, CORS, ...), listed by routes and listeners (see docs/policies.md)."`
	Redis     *RedisServer        `yaml:"redis" doc:"The Redis server that policies with store: redis share (rate-limit counters, cache entries)."`
	ACME      ACME                `yaml:"acme" doc:"How automatic certificates are obtained (for listeners whose tls has acme): the ACME CA, account and storage."`

	// Sample starts the built-in sample backend; used by the embedded default.
	Sample Sample `yaml:"sample" doc:"The built-in sample backend, for trying Bouncer without a service of your own."`

	// File is the path the config was read from ("" for embedded/inline).
	File string `yaml:"-"`
	// Raw is the source text, kept for the admin /config view.
	Raw []byte `yaml:"-"`
	// pos maps a key path ("routes[2].to.upstream") to its line in File.
	pos map[string]int
}

// Admin configures the admin listener.
type Admin struct {
	Address string `yaml:"address" default:"127.0.0.1:9901" doc:"host:port of the admin API; \"off\" disables it. Loopback by default: never expose it publicly. On loopback it answers only to Host localhost or an IP address (a DNS name rebound to 127.0.0.1 is refused), and cross-origin browser requests other than GET are refused everywhere."`
}

// Log configures process and access logs.
type Log struct {
	Level     string `yaml:"level" default:"info" enum:"debug,info,warn,error" doc:"Minimum level of process logs."`
	Format    string `yaml:"format" default:"text" enum:"text,json" doc:"Log encoding, for process and access logs."`
	AccessLog bool   `yaml:"access_log" default:"true" doc:"Write one structured line per request."`
}

// Server holds settings shared by every listener.
type Server struct {
	TrustedProxies  []string `yaml:"trusted_proxies" doc:"CIDRs (or IPs) whose X-Forwarded-* and Forwarded headers are trusted; others' are replaced."`
	RequestIDHeader string   `yaml:"request_id_header" default:"X-Request-Id" doc:"Header carrying the request id: propagated when present, generated when not."`
	ShutdownTimeout Duration `yaml:"shutdown_timeout" default:"30s" doc:"How long SIGTERM waits for in-flight requests before closing connections."`
	MaxBodyBytes    Size     `yaml:"max_request_body_bytes" default:"0" doc:"Largest accepted request body (0: unlimited). Larger bodies get 413."`
	EscapedSlashes  string   `yaml:"escaped_slashes" default:"keep" enum:"keep,reject,unescape" doc:"An escaped slash (%2F) in a request path: keep it inside its segment (routes and upstreams see %2F), reject the request (400), or unescape it into a separator before the path is normalised and matched. Choose reject or unescape when an upstream decodes %2F into / itself: with keep, /admin%2Fx passes a route that guards /admin/."`
	MaxConnections  int      `yaml:"max_connections" default:"0" doc:"Client connections open at once over all listeners (0: no limit); past it new connections are closed at once and counted (bouncer_connections_refused_total)."`
	DataDir         string   `yaml:"data_dir" doc:"Folder for state kept across restarts: ACME accounts and certificates (file storage) and the local CA (default: $XDG_DATA_HOME/bouncer, else ~/.local/share/bouncer)."`
}

// Listener is one socket.
type Listener struct {
	Name          string           `yaml:"name" required:"true" doc:"Unique name, used by routes' listeners list and in metrics."`
	Address       string           `yaml:"address" required:"true" doc:"host:port to listen on; port 0 picks a free port."`
	Protocols     []string         `yaml:"protocols" default:"[http1,h2c]" enum:"http1,h2c,h2,h3,tcp,udp" doc:"Protocols served (default: http1 and h2c; with tls, http1 and h2): http1 and h2c on plain TCP; http1, h2 and h3 with tls (h3 is HTTP/3 over QUIC on the UDP port of the same address); tcp: l4_routes on this port, beside HTTP when listed with it (a peek tells them apart); udp: l4_routes with udp actions on the UDP port."`
	ProxyProtocol *ProxyProtocolIn `yaml:"proxy_protocol" doc:"Accept a PROXY protocol header (v1 or v2) from trusted peers; the client address it carries is used by L4 and HTTP alike."`
	L4            ListenerL4       `yaml:"l4" doc:"How TCP connections are inspected and limited before routing."`
	TLS           *ListenerTLS     `yaml:"tls" doc:"Serve TLS (ALPN picks h2 or http/1.1) with static certificates, automatic ones (acme) or a local CA's."`
	HTTP3         HTTP3            `yaml:"http3" doc:"HTTP/3 settings, for a listener whose protocols include h3."`
	Redirect      *HTTPSRedirect   `yaml:"redirect_https" doc:"On a listener without tls: answer every request with a redirect to https (except ACME HTTP-01 challenges, which are answered first)."`
	Limits        ListenerLimits   `yaml:"limits" doc:"Per-listener limits and timeouts."`
	Policies      []string         `yaml:"policies" doc:"Policies applied to every HTTP route served on this listener, before the route's own (a route can opt out with inherit_policies: false)."`
}

// ProxyProtocolIn is how a listener receives PROXY protocol headers.
type ProxyProtocolIn struct {
	Trusted []string `yaml:"trusted" required:"true" doc:"CIDRs (or IPs) of the load balancers that send a header; from anyone else a header is a spoofing attempt and the connection is closed."`
	Policy  string   `yaml:"policy" default:"use" enum:"require,use,ignore,reject" doc:"For trusted peers: require a header (close without), use one when present, ignore it (read and drop), or reject connections that send one."`
	Timeout Duration `yaml:"timeout" default:"3s" doc:"Time a trusted peer has to send its header."`
}

// ListenerL4 tunes the peek and the per-client limits of TCP connections.
type ListenerL4 struct {
	PeekTimeout  Duration `yaml:"peek_timeout" default:"5s" doc:"Time a client has to send enough (a TLS ClientHello, an HTTP request line) for routing; silent ones are closed then. Routes by port alone need no peek."`
	PeekMaxBytes Size     `yaml:"peek_max_bytes" default:"16KiB" doc:"Largest ClientHello read for routing."`
	MaxPerIP     int      `yaml:"max_connections_per_ip" default:"0" doc:"Connections one client address may hold at once (0: no limit); on a udp listener, sessions (one per source port)."`
	RatePerIP    int      `yaml:"connection_rate_per_ip" default:"0" doc:"New connections per second one client address may open (0: no limit)."`
	BurstPerIP   int      `yaml:"connection_burst_per_ip" default:"0" doc:"Connections a client may open at once before connection_rate_per_ip applies (0: the rate)."`
	UDPSessions  int      `yaml:"max_udp_sessions" default:"10000" doc:"UDP sessions (client addresses) served at once on a udp listener; datagrams from new clients over it are dropped and counted. Each holds a 64 KiB buffer."`
}

// L4Route is one TCP or UDP route: a match and exactly one action.
type L4Route struct {
	Name      string   `yaml:"name" doc:"Name used in logs and metrics (default: l4-route-N)."`
	Listeners []string `yaml:"listeners" doc:"Listeners (with tcp or udp in protocols) this route is on (default: all of them)."`
	Match     L4Match  `yaml:"match" doc:"What a connection must look like; every condition given must hold."`

	TCP         *L4Action `yaml:"tcp" doc:"Proxy the bytes to an upstream as they come (TLS included, undecrypted)."`
	Passthrough *L4Action `yaml:"passthrough" doc:"TLS passthrough: the connection must be TLS, chosen by its SNI, and goes to the upstream undecrypted."`
	Terminate   *L4Action `yaml:"terminate" doc:"Terminate TLS with the listener's certificates (tls block), then send plain TCP to the upstream, or TLS again when the upstream has tls."`
	UDP         *L4Action `yaml:"udp" doc:"Proxy datagrams, one session per client address; with match.sni or alpn, QUIC connections (HTTP/3 and others) go to an upstream by server name without being terminated."`

	IdleTimeout    Duration `yaml:"idle_timeout" default:"10m" doc:"A connection (or UDP session) with no bytes either way for this long is closed."`
	MaxLifetime    Duration `yaml:"max_lifetime" default:"0s" doc:"Close a connection after this long, to rotate long-lived ones (0: never)."`
	LifetimeJitter Duration `yaml:"max_lifetime_jitter" default:"0s" doc:"Random extra lifetime up to this, so connections opened together do not all close together."`
	ConnectTries   int      `yaml:"connect_tries" default:"2" doc:"Endpoints tried, one after another, when connecting fails."`
}

// L4Match is an L4 route's conditions.
type L4Match struct {
	SNI     []string `yaml:"sni" doc:"TLS server names: exact, *.example.com (any depth) or ~regex (the whole name). On a udp route, read from a QUIC client's Initial packets (QUIC v1 and v2), which are not terminated."`
	ALPN    []string `yaml:"alpn" doc:"ALPN protocols; one of them must be offered (on a udp route: in the QUIC ClientHello)."`
	Ports   []int    `yaml:"ports" doc:"Local ports (for a listener on several, or to be explicit)."`
	Clients []string `yaml:"clients" doc:"Client CIDRs (or IPs)."`
	TLS     *bool    `yaml:"tls" doc:"true: only TLS connections; false: only others."`
}

// L4Action names the upstream of an L4 route.
type L4Action struct {
	Upstream string `yaml:"upstream" required:"true" doc:"Name of an upstream."`
}

// HTTPSRedirect sends plain HTTP requests to their https URL.
type HTTPSRedirect struct {
	Port   int `yaml:"port" default:"443" doc:"Port of the https URL (left out of the URL when 443)."`
	Status int `yaml:"status" default:"308" enum:"301,302,307,308" doc:"Redirect status; 308 and 307 keep the method and body."`
}

// HTTP3 tunes the QUIC side of a listener.
type HTTP3 struct {
	Allow0RTT  bool     `yaml:"allow_0rtt" default:"false" doc:"Accept requests in 0-RTT early data (replayable): only the safe methods GET, HEAD, OPTIONS and TRACE are served from it, others get 425 Too Early."`
	RetryAbove int      `yaml:"retry_above" default:"0" doc:"New QUIC connections per second above which every new connection must first prove its address with a Retry (0: never forced)."`
	AltSvcAge  Duration `yaml:"alt_svc_max_age" default:"24h" doc:"How long clients may remember the Alt-Svc advertisement sent on HTTP/1.1 and h2 responses."`
}

// ListenerTLS is how a listener serves TLS: its static certificates and
// protocol settings.
type ListenerTLS struct {
	CertFile      string      `yaml:"cert_file" doc:"PEM certificate chain, for a listener with one certificate (or use certificates)."`
	KeyFile       string      `yaml:"key_file" doc:"PEM private key of cert_file."`
	Certificates  []CertPair  `yaml:"certificates" doc:"Several certificates: each serves the DNS names of its subjectAltName, an exact name before a wildcard (*.example.com covers one label). The first one (after cert_file, when set) is the default, for clients that send no SNI and for names no certificate covers. ECDSA and RSA certificates for the same names go side by side: each client gets one it supports, ECDSA first."`
	StrictSNI     bool        `yaml:"strict_sni" default:"false" doc:"Fail the handshake for a name no certificate covers instead of serving the default certificate."`
	MinVersion    string      `yaml:"min_version" default:"1.2" enum:"1.2,1.3" doc:"Oldest TLS version accepted. TLS 1.3 is preferred whenever the client has it; TLS 1.2 is offered with ECDHE and AEAD cipher suites only."`
	SNIHostCheck  bool        `yaml:"sni_host_check" default:"true" doc:"A request whose Host is not the name the client gave in SNI gets 421 Misdirected Request (a connection reused for another host); off lets such requests through."`
	WatchInterval Duration    `yaml:"watch_interval" default:"10s" doc:"How often the certificate files are checked; changed ones are loaded again without a restart, and a broken one leaves the certificates in use (0: never)."`
	ACME          *TLSACME    `yaml:"acme" doc:"Certificates obtained and renewed automatically over ACME (see the top-level acme section), for listed names or on demand."`
	LocalCA       *LocalCA    `yaml:"local_ca" doc:"Certificates from Bouncer's own local CA, for development: its root is created once in server.data_dir and must be trusted by the clients."`
	HSTS          *HSTS       `yaml:"hsts" doc:"Send Strict-Transport-Security on every response of this listener."`
	ClientAuth    *ClientAuth `yaml:"client_auth" doc:"Ask clients for certificates (mTLS) and verify them against CA bundles."`
}

// TLSACME names what a listener gets certificates for over ACME.
type TLSACME struct {
	Names    []string  `yaml:"names" doc:"Names to obtain certificates for at start and renew in the background (exact names; a wildcard needs DNS-01)."`
	OnDemand *OnDemand `yaml:"on_demand" doc:"Obtain a certificate at the first handshake for a name not listed, if allow or ask says yes."`
}

// OnDemand decides which unknown names get a certificate at their first
// handshake. One of Allow and Ask is required.
type OnDemand struct {
	Allow      []string `yaml:"allow" doc:"Names allowed: exact or *.example.com (one label)."`
	Ask        string   `yaml:"ask" doc:"URL asked GET ?domain=NAME before issuing; 200 means yes, anything else no."`
	AskTimeout Duration `yaml:"ask_timeout" default:"3s" doc:"Time the ask endpoint has to answer; no answer is a no."`
	DenyCache  Duration `yaml:"deny_cache" default:"5m" doc:"How long a refused name is refused without asking again, and how long a name whose order failed waits before it is ordered again."`
	RateLimit  int      `yaml:"rate_limit" default:"10" doc:"New certificates obtained on demand per rate_window, all names together (0: no limit)."`
	RateWindow Duration `yaml:"rate_window" default:"1m" doc:"Window of rate_limit."`
}

// LocalCA issues development certificates from a CA Bouncer keeps.
type LocalCA struct {
	Names    []string `yaml:"names" default:"[localhost,127.0.0.1,'::1']" doc:"Names (DNS names or IPs) the listener's local certificate covers."`
	Lifetime Duration `yaml:"lifetime" default:"168h" doc:"Validity of each issued certificate; it is issued again when two thirds have passed."`
}

// HSTS is a Strict-Transport-Security policy (RFC 6797).
type HSTS struct {
	MaxAge            Duration `yaml:"max_age" default:"8760h" doc:"How long browsers keep to https (max-age)."`
	IncludeSubdomains bool     `yaml:"include_subdomains" default:"false" doc:"Add includeSubDomains."`
	Preload           bool     `yaml:"preload" default:"false" doc:"Add preload (needs max_age of a year or more and include_subdomains)."`
}

// ClientAuth is a listener's client certificate (mTLS) policy.
type ClientAuth struct {
	Mode          string   `yaml:"mode" default:"require" enum:"require,optional" doc:"require: the handshake fails without a valid client certificate; optional: one is asked for and verified when given, and routes with client_cert: required refuse requests without it."`
	CAFiles       []string `yaml:"ca_files" required:"true" doc:"PEM bundles of the CAs client certificates must chain to."`
	ForwardHeader string   `yaml:"forward_header" default:"X-Forwarded-Client-Cert" doc:"Header that carries the verified client identity to upstreams (Envoy's x-forwarded-client-cert format); a client-sent one is always removed. \"\" forwards none."`
	ForwardFields []string `yaml:"forward_fields" default:"[Hash,Subject,URI,DNS]" enum:"Hash,Subject,URI,DNS,Cert" doc:"Fields of the forwarded identity: certificate SHA-256 (Hash), subject, URI and DNS SANs, and the URL-encoded PEM certificate (Cert)."`
}

// CertPair is one PEM certificate chain and its key.
type CertPair struct {
	CertFile string `yaml:"cert_file" required:"true" doc:"PEM certificate chain."`
	KeyFile  string `yaml:"key_file" required:"true" doc:"PEM private key."`
}

// Pairs lists the certificates of t, the default first.
func (t *ListenerTLS) Pairs() []CertPair {
	var out []CertPair
	if t.CertFile != "" || t.KeyFile != "" {
		out = append(out, CertPair{CertFile: t.CertFile, KeyFile: t.KeyFile})
	}
	return append(out, t.Certificates...)
}

// ListenerLimits bounds what one client can hold.
type ListenerLimits struct {
	MaxHeaderBytes       Size     `yaml:"max_header_bytes" default:"64KiB" doc:"Largest request head (request line and headers); larger gets 431."`
	ReadHeaderTimeout    Duration `yaml:"read_header_timeout" default:"10s" doc:"Time to read a request head; it also bounds the TLS handshake and the wait for the HTTP/2 preface."`
	ReadTimeout          Duration `yaml:"read_timeout" default:"0s" doc:"Time to read a whole request including its body (0: no limit; bodies are streamed)."`
	WriteTimeout         Duration `yaml:"write_timeout" default:"0s" doc:"Time to write a whole response (0: no limit, so streams and SSE can last; HTTP/1.1 then still closes a connection whose client takes no response bytes for idle_timeout)."`
	IdleTimeout          Duration `yaml:"idle_timeout" default:"120s" doc:"Keep-alive idle time before the connection is closed. Also how long a client may take no response bytes: for HTTP/1.1 when write_timeout is 0 (then the connection is closed), for HTTP/2 always (a response waiting for the client to open its flow-control window has its stream reset; one waiting for the client to read what was written closes the connection)."`
	MaxConcurrentStreams int      `yaml:"max_concurrent_streams" default:"250" doc:"HTTP/2 streams one connection may have open at once."`
	MaxConnections       int      `yaml:"max_connections" default:"10000" doc:"Connections open at once on this listener; more wait in the kernel backlog (0: unlimited). On a listener with tcp in its protocols, more are closed at once and counted instead."`
}

// Route is one HTTP route: a match and exactly one action.
type Route struct {
	Name      string   `yaml:"name" doc:"Name used in logs and metrics (default: route-N, its position)."`
	Listeners []string `yaml:"listeners" doc:"Listeners this route is served on (default: all HTTP listeners)."`
	Match     Match    `yaml:"match" doc:"What a request must look like; every condition given must hold."`

	Proxy     *ProxyAction     `yaml:"proxy" doc:"Forward to an upstream."`
	Transcode *TranscodeAction `yaml:"transcode" doc:"Serve the methods of a gRPC upstream as REST/JSON (google.api.http rules), from descriptors fetched at run time."`
	Redirect  *RedirectAction  `yaml:"redirect" doc:"Answer with a redirect."`
	Respond   *RespondAction   `yaml:"respond" doc:"Answer directly with a fixed response."`
	Aggregate *AggregateAction `yaml:"aggregate" doc:"Answer with one JSON object composed from several calls to upstreams and transcode routes."`

	Split    *SplitAction    `yaml:"split" doc:"With proxy: choose the upstream per request by rules, weights (canary) and sticky hashing."`
	Versions *VersionsAction `yaml:"versions" doc:"With proxy: choose the upstream by API version (path, header or query) and mark old versions deprecated."`
	Mirror   *MirrorAction   `yaml:"mirror" doc:"With proxy: copy requests to a shadow upstream, answers discarded."`

	ClientCert      string         `yaml:"client_cert" default:"any" enum:"any,required" doc:"required: only requests on a connection with a verified client certificate are served (others get 403); the listener needs tls.client_auth."`
	Rewrite         *Rewrite       `yaml:"rewrite" doc:"Change the path before proxying."`
	RequestHeaders  *HeaderChanges `yaml:"request_headers" doc:"Headers changed on the way to the upstream."`
	ResponseHeaders *HeaderChanges `yaml:"response_headers" doc:"Headers changed on the way back to the client."`
	Policies        []string       `yaml:"policies" doc:"Names of policies applied to this route; they run in a fixed phase order whatever the order listed. Several authentication policies are alternatives: the first whose credentials the request carries decides."`
	InheritPolicies bool           `yaml:"inherit_policies" default:"true" doc:"Apply the policies of the listeners the route is served on before its own."`
}

// Match is a route's conditions. Exactly one of Path, Prefix, Template and
// Regex may be set; none matches every path.
type Match struct {
	Hosts    []string     `yaml:"hosts" doc:"Host names: exact (api.example.com) or wildcard (*.example.com); default any."`
	Path     string       `yaml:"path" doc:"Exact path."`
	Prefix   string       `yaml:"prefix" doc:"Path prefix (string prefix, as in Envoy)."`
	Template string       `yaml:"template" doc:"Path template: literal segments, {var} (one segment), ** (the rest, last only)."`
	Regex    string       `yaml:"regex" doc:"RE2 regular expression the whole path must match."`
	Methods  []string     `yaml:"methods" doc:"HTTP methods; default any."`
	Headers  []ValueMatch `yaml:"headers" doc:"Header conditions."`
	Query    []ValueMatch `yaml:"query" doc:"Query parameter conditions."`
}

// ValueMatch tests one header or query parameter. With neither Value nor
// Regex it tests presence.
type ValueMatch struct {
	Name    string `yaml:"name" required:"true" doc:"Header or parameter name."`
	Value   string `yaml:"value" doc:"Exact value."`
	Regex   string `yaml:"regex" doc:"RE2 expression the whole value must match."`
	Present *bool  `yaml:"present" doc:"true: must be present (the default with no value or regex); false: must be absent."`
}

// ProxyAction forwards to an upstream.
type ProxyAction struct {
	Upstream      string   `yaml:"upstream" required:"true" doc:"Name of an upstream."`
	Timeout       Duration `yaml:"timeout" default:"30s" doc:"Total time for the request, all tries included, until response headers arrive (0: none)."`
	PerTryTimeout Duration `yaml:"per_try_timeout" default:"0s" doc:"Time for one try until response headers (0: only the total applies)."`
	Retry         *Retry   `yaml:"retry" doc:"Retry policy (default: 1 retry of idempotent methods on connect-failure)."`
	UpgradeIdle   Duration `yaml:"upgrade_idle_timeout" default:"1h" doc:"An upgraded connection (WebSocket and the like) with no bytes either way for this long is closed, client and upstream sides both (0: no limit)."`
	Forwarded     []string `yaml:"forwarded_headers" default:"[x-forwarded-for,x-forwarded-proto,x-forwarded-host,forwarded]" enum:"x-forwarded-for,x-forwarded-proto,x-forwarded-host,forwarded" doc:"Forwarding headers set on the request sent upstream (server.trusted_proxies says whose values are extended rather than replaced). A header left out is passed on unchanged from a trusted peer and removed from anyone else's request, so a client can never forge it; [] sets none."`
}

// Retry says when a failed try is tried again on another endpoint.
type Retry struct {
	Attempts int      `yaml:"attempts" default:"1" doc:"Retries after the first try (0: none)."`
	RetryOn  []string `yaml:"retry_on" default:"[connect-failure]" enum:"connect-failure,reset,502,503,504" doc:"Conditions that allow a retry."`
	Methods  []string `yaml:"methods" default:"[GET,HEAD,OPTIONS,PUT,DELETE,TRACE]" doc:"Methods that may be retried: idempotent ones by default, never POST unless listed."`
	Backoff  Duration `yaml:"backoff" default:"25ms" doc:"Base back-off between tries (jittered, doubling)."`
}

// TranscodeAction serves gRPC methods as REST/JSON. The bindings come from
// the google.api.http annotations of the upstream's descriptors, from
// Rules, and from the automatic POST /package.Service/Method.
type TranscodeAction struct {
	Upstream      string            `yaml:"upstream" required:"true" doc:"Name of a gRPC upstream (protocol h2c or h2)."`
	Services      []string          `yaml:"services" doc:"Fully qualified services exposed (default: every service but reflection and health)."`
	Annotations   bool              `yaml:"annotations" default:"true" doc:"Use the google.api.http annotations found in the descriptors."`
	AutoPost      bool              `yaml:"auto_post" default:"true" doc:"Also serve every method at POST /package.Service/Method with the request message as the JSON body."`
	Rules         []HTTPRule        `yaml:"rules" doc:"google.api.http rules declared here, for services without annotations or to change them."`
	Timeout       Duration          `yaml:"timeout" default:"30s" doc:"Longest unary call, all tries included, sent upstream as grpc-timeout; a client's Grpc-Timeout header may only shorten it. Streams are bounded only by a client's Grpc-Timeout, and this bounds the wait for their response headers (0: no limit)."`
	PerTryTimeout Duration          `yaml:"per_try_timeout" default:"0s" doc:"Time for one try until response headers (0: only the total applies)."`
	Retry         *Retry            `yaml:"retry" doc:"Retry policy; a call is retried only when its binding's HTTP method is listed, or its method is marked idempotent (idempotency_level)."`
	Forwarded     []string          `yaml:"forwarded_headers" default:"[x-forwarded-for,x-forwarded-proto,x-forwarded-host,forwarded]" enum:"x-forwarded-for,x-forwarded-proto,x-forwarded-host,forwarded" doc:"Forwarding headers sent to the upstream with each call, as proxy.forwarded_headers: a header left out is passed on from a trusted peer and removed otherwise; [] sets none."`
	Strict        bool              `yaml:"strict" default:"false" doc:"Unknown JSON fields and unknown query parameters are a 400 naming them (default: ignored)."`
	Validate      bool              `yaml:"validate" default:"false" doc:"Check each request message against the protovalidate (buf.validate) rules in the descriptors before the call; a violation is a 400 listing the fields."`
	MaxBodyBytes  Size              `yaml:"max_request_body_bytes" default:"4MiB" doc:"Largest JSON or HttpBody request accepted (413 above)."`
	JSON          TranscodeJSON     `yaml:"json" doc:"How responses are written as JSON."`
	Metadata      TranscodeMetadata `yaml:"metadata" doc:"Which request headers become gRPC metadata, and how metadata comes back."`
	SSEHeartbeat  Duration          `yaml:"sse_heartbeat" default:"15s" doc:"Comment line sent on an idle server-streaming response in text/event-stream form (0: none)."`
	OpenAPI       *TranscodeOpenAPI `yaml:"openapi" doc:"Serve an OpenAPI 3.1 document of exactly what this route exposes, rebuilt with the descriptors, and a page that renders it."`
}

// TranscodeOpenAPI serves the document of a transcode route. Its paths
// must be under the route's match (they are answered by the route).
type TranscodeOpenAPI struct {
	Path     string `yaml:"path" required:"true" doc:"Path of the OpenAPI 3.1 document (JSON), such as /v1/openapi.json."`
	DocsPath string `yaml:"docs_path" doc:"Path of a self-contained HTML page that renders the document and can try calls (empty: none)."`
	Title    string `yaml:"title" doc:"The document's info.title (default: the upstream's name)."`
	Version  string `yaml:"version" doc:"The document's info.version (default: the descriptors' digest, shortened)."`
}

// HTTPRule binds one method to HTTP: google.api.http's rule, with its
// additional_bindings as further entries of Bindings.
type HTTPRule struct {
	Selector string        `yaml:"selector" required:"true" doc:"The method: package.Service.Method."`
	Override bool          `yaml:"override" default:"false" doc:"Replace the method's annotated bindings instead of adding to them."`
	Bindings []HTTPBinding `yaml:"bindings" required:"true" doc:"HTTP methods and path templates served by the method (at least one)."`
}

// HTTPBinding is one HTTP method and path template bound to a gRPC
// method. Exactly one of Get, Put, Post, Delete, Patch and Custom.
type HTTPBinding struct {
	Get           string         `yaml:"get" doc:"Path template for GET."`
	Put           string         `yaml:"put" doc:"Path template for PUT."`
	Post          string         `yaml:"post" doc:"Path template for POST."`
	Delete        string         `yaml:"delete" doc:"Path template for DELETE."`
	Patch         string         `yaml:"patch" doc:"Path template for PATCH."`
	Custom        *CustomPattern `yaml:"custom" doc:"Another HTTP method and its path template."`
	Body          string         `yaml:"body" doc:"Request field filled from the body: * for the whole message, a field name, or empty for none."`
	ResponseBody  string         `yaml:"response_body" doc:"Response field written as the body (default: the whole message)."`
	SuccessStatus int            `yaml:"success_status" default:"200" doc:"HTTP status of a successful call, such as 201 or 202."`
}

// CustomPattern is a binding for an HTTP method other than the five.
type CustomPattern struct {
	Kind string `yaml:"kind" required:"true" doc:"HTTP method, such as HEAD or OPTIONS."`
	Path string `yaml:"path" required:"true" doc:"Path template."`
}

// TranscodeJSON shapes JSON responses (protojson options).
type TranscodeJSON struct {
	EmitDefaults  bool `yaml:"emit_defaults" default:"false" doc:"Write fields that hold their zero value."`
	UseProtoNames bool `yaml:"use_proto_names" default:"false" doc:"Write proto field names (snake_case) instead of JSON names (lowerCamel)."`
	EnumsAsInts   bool `yaml:"enums_as_ints" default:"false" doc:"Write enum values as numbers instead of names."`
}

// TranscodeMetadata maps headers to gRPC metadata and back.
type TranscodeMetadata struct {
	Headers []string `yaml:"headers" default:"[Authorization]" doc:"Request headers passed to the call as metadata (lower-cased names)."`
	Prefix  string   `yaml:"prefix" default:"Grpc-Metadata-" doc:"Request headers with this prefix pass as metadata without it; response metadata comes back as headers (and trailers) with it. Empty: off."`
}

// RedirectAction answers with a redirect built from the request.
type RedirectAction struct {
	URL    string `yaml:"url" doc:"Absolute URL to redirect to; when set, the fields below are not allowed."`
	Scheme string `yaml:"scheme" doc:"Replace the scheme (e.g. https)."`
	Host   string `yaml:"host" doc:"Replace the host (and port)."`
	Path   string `yaml:"path" doc:"Replace the path."`
	Status int    `yaml:"status" default:"302" doc:"301, 302, 303, 307 or 308."`
}

// RespondAction answers with a fixed response.
type RespondAction struct {
	Status      int    `yaml:"status" default:"200" doc:"HTTP status code."`
	Body        string `yaml:"body" doc:"Response body."`
	ContentType string `yaml:"content_type" default:"text/plain; charset=utf-8" doc:"Content-Type of the body."`
}

// Rewrite changes the request path before proxying. At most one field.
type Rewrite struct {
	StripPrefix string        `yaml:"strip_prefix" doc:"Remove this prefix from the path (keeping a leading /)."`
	Path        string        `yaml:"path" doc:"Replace the whole path."`
	Regex       *RegexRewrite `yaml:"regex" doc:"Replace what a regex matches in the path."`
}

// RegexRewrite is a regexp substitution on the path.
type RegexRewrite struct {
	Pattern     string `yaml:"pattern" required:"true" doc:"RE2 expression."`
	Replacement string `yaml:"replacement" doc:"Replacement; $1 and ${name} refer to groups."`
}

// HeaderChanges edits headers: remove first, then set, then add.
type HeaderChanges struct {
	Add    map[string]string `yaml:"add" doc:"Headers appended (kept beside existing values)."`
	Set    map[string]string `yaml:"set" doc:"Headers replaced."`
	Remove []string          `yaml:"remove" doc:"Headers removed."`
}

// Upstream is a named group of endpoints.
type Upstream struct {
	Endpoints      []Endpoint        `yaml:"endpoints" required:"true" doc:"Backends: host:port strings or {address, weight} maps. A DNS name is resolved and re-resolved."`
	Protocol       string            `yaml:"protocol" default:"http1" enum:"http1,h2c,h2,h3" doc:"How Bouncer talks to the endpoints: h3 is HTTP/3 over QUIC to their UDP port, always TLS (the tls block sets roots, server name and client certificate; without one, the system roots); health checks then use HTTP/3 too."`
	TLS            *UpstreamTLS      `yaml:"tls" doc:"TLS to the endpoints (required for protocol h2; allowed with http1)."`
	Balance        string            `yaml:"balance" default:"round_robin" enum:"round_robin,least_request,least_connections,random,ring_hash,maglev" doc:"Load-balancing algorithm. round_robin honours weights (smooth weighted round robin); least_request picks the endpoint with the fewest requests (for L4 routes: connections) in flight, and least_connections is its L4 name; random is power of two choices."`
	ProxyProtocol  string            `yaml:"proxy_protocol" default:"off" enum:"off,v1,v2" doc:"Send a PROXY protocol header with the client's address to the endpoints of L4 routes (v2 carries the SNI and ALPN too)."`
	HashOn         *HashOn           `yaml:"hash_on" doc:"Key for ring_hash and maglev (default: client IP)."`
	DNSRefresh     Duration          `yaml:"dns_refresh" default:"30s" doc:"How often DNS names in endpoints are re-resolved."`
	ConnectTimeout Duration          `yaml:"connect_timeout" default:"5s" doc:"Time to open a connection to an endpoint."`
	IdleConns      int               `yaml:"max_idle_per_endpoint" default:"256" doc:"Idle keep-alive connections kept per endpoint."`
	IdleTimeout    Duration          `yaml:"idle_timeout" default:"90s" doc:"How long an idle upstream connection is kept."`
	HealthCheck    *HealthCheck      `yaml:"health_check" doc:"Active HTTP health checks."`
	Outlier        *OutlierDetection `yaml:"outlier_detection" doc:"Passive ejection of failing endpoints."`
	Circuit        CircuitBreaker    `yaml:"circuit_breaker" doc:"Limits that shed load instead of queueing it."`
	RetryBudget    RetryBudget       `yaml:"retry_budget" doc:"Caps retries as a share of requests so they cannot multiply an outage."`
	GRPC           *UpstreamGRPC     `yaml:"grpc" doc:"Where transcode routes get this upstream's gRPC descriptors (default: server reflection)."`
}

// UpstreamGRPC is the descriptor source of a gRPC upstream.
type UpstreamGRPC struct {
	Reflection         bool              `yaml:"reflection" default:"true" doc:"Fetch descriptors from every endpoint through gRPC server reflection (v1, else v1alpha)."`
	Protoset           string            `yaml:"protoset" doc:"A binary FileDescriptorSet file used instead of reflection (set reflection: false)."`
	ReflectionMetadata map[string]string `yaml:"reflection_metadata" secret:"true" doc:"gRPC metadata sent on reflection calls only, such as an authorization header."`
	RefreshInterval    Duration          `yaml:"refresh_interval" default:"60s" doc:"How often descriptors are fetched again; changes are served without a reload (0: only at start and on demand)."`
}

// Endpoint is one backend address.
type Endpoint struct {
	Address string `yaml:"address" required:"true" doc:"host:port; host may be an IP or a DNS name."`
	Weight  int    `yaml:"weight" default:"1" doc:"Relative share of traffic (1 to 1000)."`
}

// UpstreamTLS configures TLS towards endpoints.
type UpstreamTLS struct {
	ServerName         string `yaml:"server_name" doc:"SNI and name to verify (default: the endpoint's host)."`
	CAFile             string `yaml:"ca_file" doc:"PEM CA bundle to verify the endpoint with (default: system roots)."`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify" doc:"Do not verify the endpoint's certificate. For tests only."`
	CertFile           string `yaml:"cert_file" doc:"PEM client certificate presented to endpoints that ask for one (mTLS); reloaded when the file changes."`
	KeyFile            string `yaml:"key_file" doc:"PEM private key of cert_file."`
}

// HashOn picks the consistent-hash key. Exactly one field.
type HashOn struct {
	Header   string `yaml:"header" doc:"Hash on this request header."`
	Cookie   string `yaml:"cookie" doc:"Hash on this cookie."`
	ClientIP bool   `yaml:"client_ip" doc:"Hash on the client IP."`
	SNI      bool   `yaml:"sni" doc:"Hash on the TLS server name (SNI); the client IP when there is none."`
}

// HealthCheck is an active HTTP health check.
type HealthCheck struct {
	Type               string   `yaml:"type" default:"http" enum:"http,tcp" doc:"http: GET path and judge the status; tcp: connect (and handshake, with tls), write the send bytes, and look for the expect bytes in the reply."`
	Send               string   `yaml:"send" doc:"type tcp: bytes written after connecting, such as \"PING\\r\\n\" for Redis (empty: connect only)."`
	Expect             string   `yaml:"expect" doc:"type tcp: the reply must contain these bytes, such as \"+PONG\" (empty: connecting is enough)."`
	Path               string   `yaml:"path" default:"/" doc:"Path requested with GET."`
	Host               string   `yaml:"host" doc:"Host header sent (default: the endpoint address)."`
	Interval           Duration `yaml:"interval" default:"5s" doc:"Time between checks of one endpoint."`
	Timeout            Duration `yaml:"timeout" default:"2s" doc:"Time a check may take."`
	ExpectedStatuses   []string `yaml:"expected_statuses" default:"[200-399]" doc:"Statuses or ranges (200, 200-299) counted as healthy."`
	HealthyThreshold   int      `yaml:"healthy_threshold" default:"2" doc:"Successes in a row that mark an endpoint healthy."`
	UnhealthyThreshold int      `yaml:"unhealthy_threshold" default:"3" doc:"Failures in a row that mark an endpoint unhealthy."`
}

// OutlierDetection ejects endpoints that fail live traffic.
type OutlierDetection struct {
	Consecutive5xx             int      `yaml:"consecutive_5xx" default:"5" doc:"5xx responses in a row that eject an endpoint (0: off)."`
	ConsecutiveConnectFailures int      `yaml:"consecutive_connect_failures" default:"3" doc:"Connect failures in a row that eject an endpoint (0: off)."`
	BaseEjectionTime           Duration `yaml:"base_ejection_time" default:"30s" doc:"First ejection length; each repeat ejection doubles it."`
	MaxEjectionTime            Duration `yaml:"max_ejection_time" default:"300s" doc:"Longest ejection."`
	MaxEjectionPercent         int      `yaml:"max_ejection_percent" default:"50" doc:"Most endpoints (percent, at least one) ejected at once."`
}

// CircuitBreaker sheds load with 503 when a limit is reached.
type CircuitBreaker struct {
	MaxConnections int `yaml:"max_connections" default:"0" doc:"Upstream connections open at once (0: unlimited)."`
	MaxPending     int `yaml:"max_pending" default:"0" doc:"Requests waiting for a connection at once (0: unlimited)."`
	MaxRequests    int `yaml:"max_requests" default:"0" doc:"Requests in flight at once (0: unlimited)."`
}

// RetryBudget caps retries relative to live requests.
type RetryBudget struct {
	Percent        int `yaml:"percent" default:"20" doc:"Retries in flight allowed, as a percentage of requests in flight."`
	MinConcurrency int `yaml:"min_retry_concurrency" default:"3" doc:"Retries in flight always allowed, whatever the percentage."`
}

// Sample configures the built-in sample backend.
type Sample struct {
	Enabled bool   `yaml:"enabled" default:"false" doc:"Start the built-in sample backend (for trying Bouncer; not for production)."`
	Address string `yaml:"address" default:"127.0.0.1:8081" doc:"host:port the sample backend listens on; an upstream reaches it at that address."`
	// GRPCAddress starts the sample gRPC service (a library of shelves and
	// books, with server reflection and google.api.http annotations).
	GRPCAddress string `yaml:"grpc_address" doc:"host:port of the sample gRPC service (with reflection), for trying transcoding; empty: not started."`
	// TCPEcho starts line-echo TCP services, for trying L4 routes.
	TCPEcho []string `yaml:"tcp_echo" doc:"host:port of sample TCP echo services (each answers a line with its name and the line), for trying L4 balancing; empty: none."`
}

// ACME is the account and CA that automatic certificates come from, shared
// by every listener with tls.acme.
type ACME struct {
	CA         string      `yaml:"ca" default:"https://acme-v02.api.letsencrypt.org/directory" doc:"ACME directory URL: Let's Encrypt production by default; its staging CA (https://acme-staging-v02.api.letsencrypt.org/directory) or any other by URL."`
	Email      string      `yaml:"email" doc:"Account contact address, for the CA's expiry and policy notices."`
	CARoots    string      `yaml:"ca_roots" doc:"PEM file of roots trusted for the CA's API (for a private CA); the system roots otherwise."`
	EAB        *EAB        `yaml:"eab" doc:"External account binding, for CAs that require one."`
	Challenges []string    `yaml:"challenges" default:"[http-01,tls-alpn-01]" enum:"http-01,tls-alpn-01" doc:"Challenge types offered to the CA. HTTP-01 is answered on Bouncer's plain listener on http_port (before routing); TLS-ALPN-01 by its TLS listener on tls_port."`
	HTTPPort   int         `yaml:"http_port" default:"80" doc:"Port the CA connects to for HTTP-01 (where a listener without tls should be)."`
	TLSPort    int         `yaml:"tls_port" default:"443" doc:"Port the CA connects to for TLS-ALPN-01 (where a listener with tls.acme should be)."`
	DNS        *ACMEDNS    `yaml:"dns" doc:"Prove names with DNS-01 through a DNS server that accepts updates; the only way to get wildcard names. When set, it replaces the other challenges."`
	Storage    ACMEStorage `yaml:"storage" doc:"Where accounts, certificates and locks are kept."`
}

// ACMEDNS is the DNS-01 setup: how challenge records are written, and
// where their propagation is checked.
type ACMEDNS struct {
	RFC2136   *RFC2136 `yaml:"rfc2136" required:"true" doc:"Write the records with RFC 2136 dynamic updates signed with TSIG (BIND, Knot, PowerDNS and others accept them)."`
	Resolvers []string `yaml:"resolvers" doc:"DNS servers (host:port) asked whether the records have propagated (default: the zone's authoritative servers)."`
}

// RFC2136 is a DNS server that accepts signed dynamic updates.
type RFC2136 struct {
	Server       string   `yaml:"server" required:"true" doc:"host:port of the primary DNS server of the zone."`
	Zone         string   `yaml:"zone" doc:"The zone updated (default: found with an SOA query for each name)."`
	KeyName      string   `yaml:"key_name" required:"true" doc:"TSIG key name."`
	KeyAlgorithm string   `yaml:"key_algorithm" default:"hmac-sha256" enum:"hmac-sha256,hmac-sha512" doc:"TSIG algorithm."`
	KeySecret    string   `yaml:"key_secret" secret:"true" required:"true" doc:"TSIG secret (base64)."`
	Timeout      Duration `yaml:"timeout" default:"10s" doc:"Time for each exchange with the server."`
}

// EAB is an ACME external account binding.
type EAB struct {
	KeyID  string `yaml:"key_id" required:"true" doc:"Key identifier given by the CA."`
	MACKey string `yaml:"mac_key" secret:"true" required:"true" doc:"HMAC key given by the CA (base64url)."`
}

// ACMEStorage picks the certificate storage: files unless Redis is set.
type ACMEStorage struct {
	Redis *RedisStorage `yaml:"redis" doc:"Share certificates, accounts and locks with other Bouncer instances through Redis (default: files in server.data_dir), so one instance orders a certificate and all serve it."`
}

// RedisStorage is a Redis server used as shared certificate storage.
type RedisStorage struct {
	Address  string   `yaml:"address" required:"true" doc:"host:port of the Redis server."`
	Username string   `yaml:"username" doc:"ACL user name."`
	Password string   `yaml:"password" secret:"true" doc:"Password."`
	DB       int      `yaml:"db" default:"0" doc:"Database number."`
	Prefix   string   `yaml:"prefix" default:"'bouncer:certmagic:'" doc:"Prefix of every key written."`
	LockTTL  Duration `yaml:"lock_ttl" default:"60s" doc:"Lease of a lock; a holder renews it every third of this, and a crashed holder's lock frees itself after it."`
}

// Duration is a time.Duration written as "300ms", "5s" or "1m30s".
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Size is a byte count written as 1024, "64KiB", "1MiB" or "2GB".
type Size int64
