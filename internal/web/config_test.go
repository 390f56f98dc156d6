package web

import (
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPublicURLFlag(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://blog.example.com":       "https://blog.example.com",
		"https://Blog.Example.COM/":      "https://blog.example.com",
		"http://localhost:8080":          "http://localhost:8080",
		"https://[2001:db8::1]:8443":     "https://[2001:db8::1]:8443",
		"https://xn--9n2bp8q.example.kr": "https://xn--9n2bp8q.example.kr",
	} {
		got, err := parsePublicURL(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{
		"blog.example.com", "ftp://blog.example.com", "https://", "https://blog.example.com/blog",
		"https://blog.example.com?x=1", "https://blog.example.com/#top", "https://user:pw@blog.example.com",
		"https://blog_example.com", "https://blog.example.com:port", "javascript:alert(1)",
	} {
		_, err := parsePublicURL(in)
		require.Error(t, err, in)
		require.ErrorContains(t, (&Config{PublicURL: in}).Validate(), "--web.public-url", in)
	}
	require.NoError(t, (&Config{}).Validate(), "empty: the request's origin")
}

// Without --web.public-url, absolute URLs use the request's scheme and
// Host, and only when Host is a plain host name; such answers are private.
func TestOriginFallsBackToTheRequestSafely(t *testing.T) {
	t.Parallel()
	s := &Service{}
	for host, want := range map[string]string{
		"blog.example.com":        "http://blog.example.com",
		"Blog.Example.com:8080":   "http://blog.example.com:8080",
		"127.0.0.1:8080":          "http://127.0.0.1:8080",
		"[::1]:8080":              "http://[::1]:8080",
		"evil.example/<script>":   "http://localhost",
		"evil.example\"><x":       "http://localhost",
		"a@evil.example":          "http://localhost",
		"":                        "http://localhost",
		"exa mple.com":            "http://localhost",
		"-bad-.example.com":       "http://localhost",
		"blog.example.com:123456": "http://localhost",
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Host = host
		got, configured := s.origin(r)
		require.False(t, configured)
		require.Equal(t, want, got, "Host %q", host)
		require.Equal(t, "private, max-age=300", s.cacheControl(r))
	}
	// A forwarded host is never believed; https only from a trusted proxy.
	_, loopback, _ := net.ParseCIDR("127.0.0.0/8")
	var got string
	h := withPeer([]*net.IPNet{loopback}, http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got = s.abs(r, "/x") }))
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr, r.Host = "127.0.0.1:5000", "blog.example.com"
	r.Header.Set("X-Forwarded-Proto", "https")
	r.Header.Set("X-Forwarded-Host", "evil.example")
	h.ServeHTTP(httptest.NewRecorder(), r)
	require.Equal(t, "https://blog.example.com/x", got)
	r.RemoteAddr = "203.0.113.9:5000"
	h.ServeHTTP(httptest.NewRecorder(), r)
	require.Equal(t, "http://blog.example.com/x", got, "an untrusted peer's X-Forwarded-Proto is ignored")

	s = &Service{publicURL: "https://blog.example.com"}
	r = httptest.NewRequest(http.MethodGet, "/", nil)
	r.Host = "evil.example"
	require.Equal(t, "https://blog.example.com/a", s.abs(r, "/a"))
	require.Equal(t, "public, max-age=300", s.cacheControl(r))
}
