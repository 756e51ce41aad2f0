package credauth

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/bouncer-proxy/bouncer/l7"
)

// ExtAuthzOptions configures an ExtAuthz authenticator, which asks an
// external HTTP service whether each request may pass, in the manner of
// Traefik's forwardAuth, nginx auth_request and Envoy's HTTP ext_authz.
//
// The service receives a GET to URL without a body, carrying the
// ForwardHeaders of the client request plus X-Forwarded-Method,
// X-Forwarded-Proto (http or https), X-Forwarded-Host (the request's
// Host), X-Forwarded-Uri (path and query as the gateway sees them) and
// X-Forwarded-For (the client address alone, as the gateway determined
// it); these five replace any client-sent header of the same name.
//
// Its answer decides: 2xx allows; 401 and 403 deny with that status; any
// other 1xx, 3xx or 4xx denies with 403 (redirects are not followed); a
// 5xx, a timeout or a connection failure means the service is unavailable.
type ExtAuthzOptions struct {
	// URL is the service (absolute http or https).
	URL string
	// Timeout bounds one call; default 1s.
	Timeout time.Duration
	// ForwardHeaders are client request headers sent to the service,
	// e.g. Authorization, Cookie.
	ForwardHeaders []string
	// AllowedUpstreamHeaders are headers of an allowing answer that are
	// set on the request sent upstream (Identity.Forward).
	AllowedUpstreamHeaders []string
	// AllowedClientHeaders are headers of a denying answer that are sent
	// to the client (Denied.Header), e.g. WWW-Authenticate, Location.
	AllowedClientHeaders []string
	// ConsumerHeader, when set, is the header of an allowing answer that
	// names the consumer (e.g. X-Auth-Consumer).
	ConsumerHeader string
	// CacheKey are request header names whose values key a cache of the
	// service's decisions (allow and deny, not failures); empty: every
	// request asks the service. The key is these headers with the method,
	// scheme, host and request URI the service is told of, so a decision
	// about one resource is never reused for another; the client address
	// is not part of it. Include every header the decision depends on.
	CacheKey []string
	// CacheTTL is how long a decision is reused; default 10s when
	// CacheKey is set.
	CacheTTL time.Duration
	// MaxCacheEntries bounds the cache; default 10000.
	MaxCacheEntries int
	// FailOpen lets requests through as an anonymous Identity (Method
	// "ext_authz", empty Consumer) when the service is unavailable,
	// counting each in FailOpens. Default false: fail closed with 503.
	FailOpen bool
	// MaxBodyBytes is the largest denial body passed to the client;
	// default 8 KiB; a larger body is dropped, not truncated. Negative:
	// never pass a body.
	MaxBodyBytes int64
	// OnUnavailable, if set, is called for every request the service could
	// not decide (let through with FailOpen, else refused with 503), with
	// the failure; for a metric. It must not block.
	OnUnavailable func(err error)
}

// Denied is the external service's refusal, returned by
// ExtAuthz.Authenticate as the error. It is not an *l7.AuthError because
// the status is not always 401: the policy renders it with Render instead
// of the gateway's JSON error. Header and Body may be shared between
// requests and are read-only.
type Denied struct {
	Status int         // 401 or 403
	Header http.Header // the answer's AllowedClientHeaders
	Body   []byte      // the answer's body; nil when absent or too large
}

func (d *Denied) Error() string { return "ext_authz: denied with status " + strconv.Itoa(d.Status) }

// Render writes the denial to the client: the allowed headers, the status
// and, except for HEAD, the body.
func (d *Denied) Render(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	for k, vs := range d.Header {
		h[k] = append([]string(nil), vs...)
	}
	h.Set("Content-Length", strconv.Itoa(len(d.Body)))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(d.Status)
	if r.Method != http.MethodHead && len(d.Body) > 0 {
		_, _ = w.Write(d.Body)
	}
}

// ExtAuthz authenticates (and authorizes) requests by asking an external
// HTTP service.
type ExtAuthz struct {
	url           string
	forward       []string
	upstream      []string
	clientHdr     []string
	consumer      string
	cacheKey      []string
	ttl           time.Duration
	cache         *ttlCache[*extDecision]
	failOpen      bool
	maxBody       int64
	client        *http.Client
	failOpens     atomic.Uint64
	onUnavailable func(error)
	now           func() time.Time
}

// extDecision is one answer of the service: exactly one field is set.
type extDecision struct {
	id     *l7.Identity
	denied *Denied
}

var _ l7.Authenticator = (*ExtAuthz)(nil)

// NewExtAuthz validates opts and applies the defaults.
func NewExtAuthz(opts ExtAuthzOptions) (*ExtAuthz, error) {
	u, err := validEndpoint(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("ext_authz: %w", err)
	}
	if opts.Timeout < 0 || opts.CacheTTL < 0 || opts.MaxCacheEntries < 0 {
		return nil, errors.New("ext_authz: timeout, cache ttl and max cache entries may not be negative")
	}
	a := &ExtAuthz{url: u.String(), failOpen: opts.FailOpen, onUnavailable: opts.OnUnavailable, maxBody: orDefault(opts.MaxBodyBytes, 8<<10),
		client: newClient(orDefault(opts.Timeout, time.Second)), now: time.Now}
	lists := []struct {
		what string
		in   []string
		out  *[]string
	}{
		{"forward_headers", opts.ForwardHeaders, &a.forward},
		{"allowed_upstream_headers", opts.AllowedUpstreamHeaders, &a.upstream},
		{"allowed_client_headers", opts.AllowedClientHeaders, &a.clientHdr},
		{"cache_key", opts.CacheKey, &a.cacheKey},
	}
	for _, l := range lists {
		if *l.out, err = extHeaders(l.what, l.in); err != nil {
			return nil, err
		}
	}
	if opts.ConsumerHeader != "" {
		if !validHeaderName(opts.ConsumerHeader) {
			return nil, fmt.Errorf("ext_authz: consumer_header: invalid header name %q", opts.ConsumerHeader)
		}
		a.consumer = opts.ConsumerHeader
	}
	if len(a.cacheKey) > 0 {
		a.ttl = orDefault(opts.CacheTTL, 10*time.Second)
		a.cache = newTTLCache[*extDecision](orDefault(opts.MaxCacheEntries, 10000))
	}
	return a, nil
}

// Authenticate implements l7.Authenticator; it never returns
// ErrNoCredentials, since the service decides about every request. It
// blocks for at most the Timeout. It returns an Identity (Method
// "ext_authz", Consumer from ConsumerHeader, Forward the allowed upstream
// headers, shared and read-only), a *Denied, or an *l7.AuthError with
// Status 503 when the service is unavailable and FailOpen is off or the
// client went away.
func (a *ExtAuthz) Authenticate(r *http.Request) (*l7.Identity, error) {
	var key [32]byte
	if a.cache != nil {
		key = a.decisionKey(r)
		if d, ok := a.cache.get(key, a.now()); ok {
			return d.result()
		}
	}
	d, err := a.ask(r)
	if err != nil {
		if a.onUnavailable != nil && r.Context().Err() == nil {
			a.onUnavailable(err)
		}
		if a.failOpen && r.Context().Err() == nil {
			a.failOpens.Add(1)
			return &l7.Identity{Method: "ext_authz"}, nil
		}
		return nil, &l7.AuthError{Status: http.StatusServiceUnavailable, Scheme: "ExtAuthz",
			Reason: "authorization service unavailable", Cause: err}
	}
	if a.cache != nil {
		now := a.now()
		a.cache.put(key, d, now.Add(a.ttl), now)
	}
	return d.result()
}

// FailOpens is how many requests were let through because the service
// was unavailable.
func (a *ExtAuthz) FailOpens() uint64 { return a.failOpens.Load() }

// CloseIdleConnections closes the idle connections to the service; call
// it when the authenticator is retired.
func (a *ExtAuthz) CloseIdleConnections() { a.client.CloseIdleConnections() }

func (d *extDecision) result() (*l7.Identity, error) {
	if d.denied != nil {
		return nil, d.denied
	}
	id := *d.id
	return &id, nil
}

// ask calls the service and classifies its answer; an error means the
// service is unavailable.
func (a *ExtAuthz) ask(r *http.Request) (*extDecision, error) {
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, a.url, nil)
	if err != nil {
		return nil, fmt.Errorf("ext_authz request: %w", err)
	}
	a.setHeaders(req.Header, r)
	resp, err := a.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("ext_authz: %w", err)
	}
	defer resp.Body.Close()
	switch s := resp.StatusCode; {
	case s >= 200 && s < 300:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return &extDecision{id: a.allowed(resp.Header)}, nil
	case s >= 500:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, fmt.Errorf("ext_authz: service answered %d", s)
	case s != http.StatusUnauthorized:
		s = http.StatusForbidden
		fallthrough
	default:
		body, err := a.readBody(resp.Body)
		if err != nil {
			return nil, fmt.Errorf("ext_authz: read denial: %w", err)
		}
		return &extDecision{denied: &Denied{Status: s, Header: pick(resp.Header, a.clientHdr), Body: body}}, nil
	}
}

func (a *ExtAuthz) allowed(h http.Header) *l7.Identity {
	id := &l7.Identity{Method: "ext_authz", Forward: pick(h, a.upstream)}
	if a.consumer != "" {
		id.Consumer = h.Get(a.consumer)
	}
	return id
}

// setHeaders fills the request to the service (see ExtAuthzOptions).
func (a *ExtAuthz) setHeaders(out http.Header, r *http.Request) {
	for _, name := range a.forward {
		if vs := r.Header.Values(name); len(vs) > 0 {
			out[name] = append([]string(nil), vs...)
		}
	}
	proto := "http"
	if r.TLS != nil {
		proto = "https"
	}
	out.Set("X-Forwarded-Method", r.Method)
	out.Set("X-Forwarded-Proto", proto)
	out.Set("X-Forwarded-Host", r.Host)
	out.Set("X-Forwarded-Uri", r.URL.RequestURI())
	client := l7.PeerAddr(r)
	if info := l7.InfoFrom(r.Context()); info != nil && info.Client.IsValid() {
		client = info.Client
	}
	if client.IsValid() {
		out.Set("X-Forwarded-For", client.String())
	} else {
		out.Del("X-Forwarded-For")
	}
}

// readBody reads a denial body: nil when empty, too large or disabled.
func (a *ExtAuthz) readBody(body io.Reader) ([]byte, error) {
	if a.maxBody < 0 {
		_, _ = io.Copy(io.Discard, io.LimitReader(body, 64<<10))
		return nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(body, a.maxBody+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > a.maxBody || len(b) == 0 {
		return nil, nil
	}
	return b, nil
}

// decisionKey hashes what the service is asked about (the method,
// scheme, host and request URI, as setHeaders sends them) and the
// CacheKey headers' names and values; a count per header keeps an absent
// header apart from an empty one, and each part ends with a byte no
// request line or field value holds.
func (a *ExtAuthz) decisionKey(r *http.Request) [32]byte {
	h := sha256.New()
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	for _, part := range []string{r.Method, scheme, r.Host, r.URL.RequestURI()} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	var n [8]byte
	for _, name := range a.cacheKey {
		vs := r.Header.Values(name)
		h.Write([]byte(name))
		h.Write(strconv.AppendInt(n[:0], int64(len(vs)), 10))
		for _, v := range vs {
			h.Write([]byte{0})
			h.Write([]byte(v))
		}
		h.Write([]byte{'\n'})
	}
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// pick copies the named headers present in h; nil when none is.
func pick(h http.Header, names []string) http.Header {
	var out http.Header
	for _, name := range names {
		if vs := h.Values(name); len(vs) > 0 {
			if out == nil {
				out = make(http.Header, len(names))
			}
			out[name] = append([]string(nil), vs...)
		}
	}
	return out
}

// extHeaders canonicalises a header list, refusing hop-by-hop and framing
// headers, which belong to one connection and cannot be passed on.
func extHeaders(what string, names []string) ([]string, error) {
	out, err := canonicalHeaders(what, names)
	if err != nil {
		return nil, fmt.Errorf("ext_authz: %w", err)
	}
	for i, n := range out {
		switch n {
		case "Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding",
			"Upgrade", "Host", "Content-Length":
			return nil, fmt.Errorf("ext_authz: %s[%d]: %s cannot be passed on", what, i, n)
		}
	}
	return out, nil
}

// ForwardedHeaders names the headers an allowing answer may set upstream:
// the gateway removes client-sent values of all of them first.
func (a *ExtAuthz) ForwardedHeaders() []string { return slices.Clone(a.upstream) }
