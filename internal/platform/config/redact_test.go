package config

import (
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAbuse_SecureDefaults_PrintConfigRedactsEverySecretForm(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, value, want string }{
		{"postgres-url", "postgres://app:hunter2@db/x", "postgres://app:REDACTED@db/x"},
		{"postgres-url", "postgres://db/x?sslmode=require&password=hunter2", "postgres://db/x?password=REDACTED&sslmode=require"},
		{"postgres-url", "host=db user=app password=hunter2 dbname=x", "host=db user=app password=REDACTED dbname=x"},
		{"postgres-url", "host=db password='hun ter2' dbname=x", "host=db password=REDACTED dbname=x"},
		{"redis-url", "rediss://:hunter2@cache:6380/0", "rediss://:REDACTED@cache:6380/0"},
		{"nats-url", "nats://hunter2@nats:4222", "nats://REDACTED@nats:4222"},
		{"nats-url", "nats://a:hunter2@n1:4222,nats://b:hunter3@n2:4222", "nats://a:REDACTED@n1:4222,nats://b:REDACTED@n2:4222"},
		{"otel-url", "https://collector/v1?api_key=hunter2&x=1", "https://collector/v1?api_key=REDACTED&x=1"},
		{"admin.token", "hunter2", "REDACTED"},
		{"auth.signing-key", "hunter2", "REDACTED"},
		{"some.client-secret", "hunter2", "REDACTED"},
		{"http-addr", ":8080", ":8080"},
		{"trusted-proxies", "10.0.0.0/8,127.0.0.0/8", "10.0.0.0/8,127.0.0.0/8"},
		{"web-url", "http://tungsten-web:8080", "http://tungsten-web:8080"},
		{"admin.token", "", ""},
	} {
		got := Redact(tc.name, tc.value)
		require.Equal(t, tc.want, got, "%s=%s", tc.name, tc.value)
		require.NotContains(t, got, "hunter", "%s=%s", tc.name, tc.value)
	}
}

// FuzzRedact is the property behind --print-config: a secret placed in any
// of the forms a datastore URL or secret flag carries never survives.
func FuzzRedact(f *testing.F) {
	f.Add("hunter2secret", "db.internal", uint8(0))
	f.Add("p@ss:w/rd?&=", "10.0.0.1:5432", uint8(3))
	f.Add("ZZZZZZ", "h", uint8(6))
	f.Fuzz(func(t *testing.T, secret, host string, form uint8) {
		// A secret worth hiding: long enough not to occur by chance in the
		// rest of the value, and a host that a URL can carry.
		// The host is lower-case alphanumeric, the secret has a character the
		// rest of the value never has, so finding it in the output is a leak.
		if len(secret) < 6 || strings.ContainsAny(secret, "\x00") || !strings.ContainsFunc(secret, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune(".:/=&?@,_ -", r))
		}) || host == "" || strings.Trim(host, "abcdefghijklmnopqrstuvwxyz0123456789.") != "" {
			return
		}
		if _, err := url.Parse("postgres://" + host + "/x"); err != nil {
			return
		}
		esc := url.QueryEscape(secret)
		// User info as a client writes it: escaped so ':' and '@' in the secret
		// stay part of it (url.PathEscape leaves both as they are).
		asUser := url.User(secret).String()
		asPassword := strings.TrimPrefix(url.UserPassword("", secret).String(), ":")
		name, value := "postgres-url", ""
		switch form % 7 {
		case 0:
			value = "postgres://app:" + asPassword + "@" + host + "/x"
		case 1:
			value = "postgres://" + host + "/x?sslmode=require&password=" + esc
		case 2:
			value = "nats://" + asUser + "@" + host
		case 3:
			value = "https://" + host + "/v1?token=" + esc + "&x=1"
		case 4:
			if strings.ContainsAny(secret, " \t\r\n\f\v'\\") { // libpq splits values at C isspace
				return
			}
			value = "host=" + host + " password=" + secret + " dbname=x"
		case 5:
			name, value = "admin.token", secret
		case 6:
			value = "nats://a:" + asPassword + "@" + host + ",nats://b:" + asPassword + "@" + host
		}
		got := strings.ReplaceAll(Redact(name, value), Redacted, "")
		for _, s := range []string{secret, esc, url.PathEscape(secret), asUser, asPassword} {
			require.NotContains(t, got, s, "Redact(%q, %q)", name, value)
		}
	})
}
