package policy

import (
	"errors"

	"github.com/bouncer-proxy/bouncer/configs"
	"github.com/bouncer-proxy/bouncer/l7/policy/credauth"
	"github.com/bouncer-proxy/bouncer/l7/policy/jwtauth"
)

var errNoKind = errors.New("sets no policy kind")

func buildJWT(c *configs.JWTPolicy, st *State) (*built, error) {
	requireExp := c.RequireExp
	o := jwtauth.Options{
		JWKSURL: c.JWKSURL, KeyFiles: c.KeyFiles, Algorithms: c.Algorithms, Issuers: c.Issuers, Audiences: c.Audiences,
		ClockSkew: c.ClockSkew.D(), RequireExp: &requireExp, ClaimsToHeaders: c.ClaimsToHeaders, Realm: c.Realm,
		FetchTimeout: c.FetchTimeout.D(), RefreshInterval: c.RefreshInterval.D(), MinRefreshInterval: c.MinRefreshInterval.D(),
		CacheSize: c.CacheSize, CacheTTL: c.CacheTTL.D(),
	}
	if c.Secret != "" {
		o.Secret = []byte(c.Secret)
	}
	for _, s := range c.From {
		switch {
		case s.Header != "":
			o.Sources = append(o.Sources, jwtauth.Source{In: jwtauth.InHeader, Name: s.Header, Prefix: s.Prefix})
		case s.Cookie != "":
			o.Sources = append(o.Sources, jwtauth.Source{In: jwtauth.InCookie, Name: s.Cookie})
		case s.Query != "":
			o.Sources = append(o.Sources, jwtauth.Source{In: jwtauth.InQuery, Name: s.Query})
		}
	}
	v, err := jwtauth.New(o, st.keys)
	if err != nil {
		return nil, err
	}
	return &built{phase: PhaseAuthn, auth: v, close: v.Close}, nil
}

func buildAPIKey(c *configs.APIKeyPolicy) (*built, error) {
	o := credauth.APIKeyOptions{Header: c.Header, Query: c.Query}
	for _, k := range c.Keys {
		o.Keys = append(o.Keys, credauth.APIKey{Consumer: credauth.Consumer{Name: k.Consumer, Metadata: k.Metadata}, Hash: k.Hash})
	}
	a, err := credauth.NewAPIKeys(o)
	if err != nil {
		return nil, err
	}
	return &built{phase: PhaseAuthn, auth: a}, nil
}

func buildBasic(c *configs.BasicAuthPolicy) (*built, error) {
	o := credauth.BasicOptions{Realm: c.Realm}
	for _, u := range c.Users {
		o.Users = append(o.Users, credauth.BasicUser{Name: u.Name, Hash: u.Hash, Consumer: u.Consumer, Metadata: u.Metadata})
	}
	b, err := credauth.NewBasic(o)
	if err != nil {
		return nil, err
	}
	return &built{phase: PhaseAuthn, auth: b}, nil
}

func buildMTLS(c *configs.MTLSAuthPolicy) *built {
	m := &mtlsAuth{bySPIFFE: map[string]consumer{}, bySubject: map[string]consumer{}, bySHA: map[string]consumer{}, unlisted: c.Unlisted}
	for _, cs := range c.Consumers {
		v := consumer{name: cs.Name, metadata: cs.Metadata}
		switch {
		case cs.SPIFFEID != "":
			m.bySPIFFE[cs.SPIFFEID] = v
		case cs.Subject != "":
			m.bySubject[cs.Subject] = v
		case cs.SHA256 != "":
			m.bySHA[normalHex(cs.SHA256)] = v
		}
	}
	return &built{phase: PhaseAuthn, auth: m}
}

// normalHex lowercases a fingerprint and drops the colons some tools print.
func normalHex(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ':':
			continue
		case 'A' <= c && c <= 'F':
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return string(b)
}

func buildIntrospection(c *configs.IntrospectionPolicy) (*built, error) {
	o := credauth.IntrospectionOptions{
		URL: c.URL, ClientID: c.ClientID, ClientSecret: c.ClientSecret, TokenTypeHint: c.TokenTypeHint,
		Timeout: c.Timeout.D(), CacheTTL: c.CacheTTL.D(), NegativeCacheTTL: c.NegativeCacheTTL.D(), MaxCacheEntries: c.CacheSize,
		RequiredAudiences: c.Audiences, Issuer: c.Issuer,
	}
	for _, s := range c.From {
		switch {
		case s.Header != "":
			o.Sources = append(o.Sources, credauth.Source{Kind: credauth.SourceHeader, Name: s.Header})
		case s.Cookie != "":
			o.Sources = append(o.Sources, credauth.Source{Kind: credauth.SourceCookie, Name: s.Cookie})
		case s.Query != "":
			o.Sources = append(o.Sources, credauth.Source{Kind: credauth.SourceQuery, Name: s.Query})
		}
	}
	in, err := credauth.NewIntrospection(o)
	if err != nil {
		return nil, err
	}
	return &built{phase: PhaseAuthn, auth: in, close: in.CloseIdleConnections}, nil
}

func buildExtAuthz(c *configs.ExtAuthzPolicy, name string, m *Metrics) (*built, error) {
	e, err := credauth.NewExtAuthz(credauth.ExtAuthzOptions{
		OnUnavailable: m.authzUnavailable(name),
		URL:           c.URL, Timeout: c.Timeout.D(), ForwardHeaders: c.ForwardHeaders, AllowedUpstreamHeaders: c.UpstreamHeaders,
		AllowedClientHeaders: c.ClientHeaders, ConsumerHeader: c.ConsumerHeader, CacheKey: c.CacheKey, CacheTTL: c.CacheTTL.D(),
		FailOpen: c.FailOpen,
	})
	if err != nil {
		return nil, err
	}
	return &built{phase: PhaseAuthn, auth: e, close: e.CloseIdleConnections}, nil
}
