package traffic

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
)

// minPinKey is the shortest HMAC key accepted for pin cookies.
const minPinKey = 16

// pinner reads and writes the cookie that pins a user to a backend. The
// cookie value is HMAC-SHA256(key, label, cookie name, backend name) cut to
// 128 bits: one fixed, opaque token per backend, which a client cannot make
// for another backend without the key.
type pinner struct {
	name string
}

// newPinner computes every backend's token and Set-Cookie value into
// backends.
func newPinner(c PinCookie, backends []backend) (*pinner, error) {
	if len(c.Key) < minPinKey {
		return nil, fmt.Errorf("key is %d bytes, at least %d are required", len(c.Key), minPinKey)
	}
	if c.TTL < 0 {
		return nil, errors.New("ttl is negative")
	}
	path := c.Path
	if path == "" {
		path = "/"
	}
	for i := range backends {
		b := &backends[i]
		b.token = pinToken(c.Key, c.Name, b.name)
		ck := http.Cookie{
			Name: c.Name, Value: b.token, Path: path, MaxAge: int(c.TTL.Seconds()),
			HttpOnly: true, Secure: c.Secure, SameSite: http.SameSiteLaxMode,
		}
		if err := ck.Valid(); err != nil {
			return nil, fmt.Errorf("cookie: %w", err)
		}
		b.setCookie = ck.String()
	}
	return &pinner{name: c.Name}, nil
}

// read returns the backend a valid pin cookie names. It compares against
// every token in constant time and does not allocate.
func (p *pinner) read(r *http.Request, backends []backend) (int, bool) {
	v, ok := cookieValue(r.Header, p.name)
	if !ok {
		return 0, false
	}
	found := -1
	for i := range backends {
		if equalConst(v, backends[i].token) {
			found = i
		}
	}
	return found, found >= 0
}

// pinToken is the opaque cookie value for backend.
func pinToken(key []byte, cookie, backend string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("bouncer split pin\x00"))
	m.Write([]byte(cookie))
	m.Write([]byte{0})
	m.Write([]byte(backend))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// equalConst compares a and b in time that depends only on their lengths.
func equalConst(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	var d byte
	for i := 0; i < len(a); i++ {
		d |= a[i] ^ b[i]
	}
	return d == 0
}
