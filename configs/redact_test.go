package configs

import (
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// filler sets every field reachable from a value: strings of keys tagged
// secret to "secret-N", others to "plain-N"; one element in each list and
// map (map keys "plain-N", not credential names); every pointer allocated.
type filler struct {
	n       int
	secrets []string
	plain   []string
}

func (f *filler) next(secret bool) string {
	f.n++
	if secret {
		s := fmt.Sprintf("secret-%d", f.n)
		f.secrets = append(f.secrets, s)
		return s
	}
	s := fmt.Sprintf("plain-%d", f.n)
	f.plain = append(f.plain, s)
	return s
}

func (f *filler) fill(v reflect.Value, secret bool, depth int) {
	if depth > 12 {
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		f.fill(v.Elem(), secret, depth+1)
	case reflect.Struct:
		for _, df := range docFields(v.Type()) {
			f.fill(v.FieldByName(df.goName), secret || df.Secret, depth+1)
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		f.fill(v.Index(0), secret, depth+1)
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		k := reflect.New(v.Type().Key()).Elem()
		f.fill(k, false, depth+1)
		e := reflect.New(v.Type().Elem()).Elem()
		f.fill(e, secret, depth+1)
		v.SetMapIndex(k, e)
	case reflect.String:
		v.SetString(f.next(secret))
	}
}

// TestRedactEveryTaggedKey fills every key of the config and checks that
// the values of secret keys are gone and all others are still there.
func TestRedactEveryTaggedKey(t *testing.T) {
	var c Config
	var f filler
	f.fill(reflect.ValueOf(&c).Elem(), false, 0)
	if len(f.secrets) < 10 {
		t.Fatalf("only %d secret values filled; the secret tags were not found", len(f.secrets))
	}
	out, err := Redact(&c)
	if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	for _, s := range f.secrets {
		if regexp.MustCompile(`\b` + s + `\b`).MatchString(text) {
			t.Errorf("secret value %s shown", s)
		}
	}
	for _, s := range f.plain {
		if !regexp.MustCompile(`\b` + s + `\b`).MatchString(text) {
			t.Errorf("plain value %s missing", s)
		}
	}
	if n := strings.Count(text, Redacted); n != len(f.secrets) {
		t.Errorf("%d values redacted, want %d", n, len(f.secrets))
	}
}

func TestRedactHeadersAndURLs(t *testing.T) {
	c := Config{
		Routes: []Route{{
			Name: "r",
			RequestHeaders: &HeaderChanges{
				Set: map[string]string{"Authorization": "Bearer abc", "X-Api-Key": "k1", "Cookie": "s=1", "X-Tenant": "blue"},
				Add: map[string]string{"X-Auth-Token": "t1", "Accept": "text/plain"},
			},
		}},
		Policies: map[string]Policy{"check": {Introspection: &IntrospectionPolicy{
			URL: "https://gw:hunter2@idp.example/introspect", ClientID: "gw",
		}}},
	}
	out, err := Redact(&c)
	if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	for _, gone := range []string{"Bearer abc", "k1", "s=1", "t1", "hunter2"} {
		if strings.Contains(text, gone) {
			t.Errorf("%q shown:\n%s", gone, text)
		}
	}
	for _, kept := range []string{"X-Tenant: blue", "Accept: text/plain", "Authorization: '" + Redacted + "'", "https://%5Bredacted%5D@idp.example/introspect", "client_id: gw"} {
		if !strings.Contains(text, kept) {
			t.Errorf("%q missing:\n%s", kept, text)
		}
	}
}

// secretName is a key name that suggests a secret: such keys must say
// whether they are one (secret:"true" or secret:"false").
var secretName = regexp.MustCompile(`secret|password|token|salt|(^|_)key$|^hash$|mac`)

func TestSecretTagsDecided(t *testing.T) {
	for _, s := range docSections() {
		for i := 0; i < s.t.NumField(); i++ {
			sf := s.t.Field(i)
			key := strings.Split(sf.Tag.Get("yaml"), ",")[0]
			if !secretName.MatchString(key) || !holdsStrings(sf.Type) {
				continue
			}
			if v := sf.Tag.Get("secret"); v != "true" && v != "false" {
				t.Errorf("%s.%s (key %s): add secret:\"true\" (redacted by the admin API) or secret:\"false\"", s.t.Name(), sf.Name, key)
			}
		}
	}
}

func holdsStrings(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	return t.Kind() == reflect.String
}
