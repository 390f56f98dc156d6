package gateway_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/tungsten-blog/tungsten/internal/gateway"
	"github.com/tungsten-blog/tungsten/internal/platform/authn/authntest"
	"github.com/tungsten-blog/tungsten/internal/platform/config"
	"github.com/tungsten-blog/tungsten/internal/platform/ratelimit"
)

// backend answers with its own name and what it saw, so tests can tell
// where a request went and with which headers.
func backend(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Backend", name)
		w.Header().Set("X-Saw-Forwarded-For", r.Header.Get("X-Forwarded-For"))
		w.Header().Set("X-Saw-Forwarded-Proto", r.Header.Get("X-Forwarded-Proto"))
		w.Header().Set("X-Saw-Real-Ip", r.Header.Get("X-Real-Ip"))
		w.Header().Set("X-Saw-Request-Id", r.Header.Get("X-Request-Id"))
		w.Header().Set("X-Saw-Traceparent", r.Header.Get("Traceparent"))
		w.Header().Set("X-Saw-Body", strconv.Itoa(len(body)))
		w.WriteHeader(200)
	})
}

type fixture struct {
	handler http.Handler
	issuer  *authntest.Issuer
}

func newGateway(t *testing.T, mutate func(*gateway.Config)) fixture {
	t.Helper()
	cfg := gateway.Config{RateLimit: 1000, RateWindow: time.Minute, MaxBodyBytes: 1024, RequestTimeout: time.Second,
		CORSOrigins: config.StringList{"*"}}
	if mutate != nil {
		mutate(&cfg)
	}
	iss := authntest.NewIssuer(t)
	gw, err := gateway.New(cfg, gateway.Deps{
		Backends: map[string]http.Handler{
			gateway.Auth: backend("auth"), gateway.Users: backend("users"), gateway.Blog: backend("blog"), gateway.Web: backend("web"),
		},
		Verifier:   iss.Verifier(),
		Limiter:    ratelimit.NewMemory(nil),
		Logger:     slog.New(slog.DiscardHandler),
		Registerer: prometheus.NewRegistry(),
		Tracer:     noop.NewTracerProvider().Tracer(""),
		Propagator: propagation.TraceContext{},
	})
	require.NoError(t, err)
	return fixture{handler: gw.Handler(), issuer: iss}
}

func (f fixture) do(method, target string, body string, header map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.RemoteAddr = "203.0.113.9:5555"
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, req)
	return rec
}

func TestRoutesReachTheirService(t *testing.T) {
	t.Parallel()
	f := newGateway(t, nil)
	tests := []struct{ method, path, want string }{
		{"POST", "/api/users", "auth"},
		{"POST", "/api/users/login", "auth"},
		{"GET", "/api/user", "users"},
		{"PUT", "/api/user", "users"},
		{"GET", "/api/profiles/jake", "users"},
		{"POST", "/api/profiles/jake/follow", "users"},
		{"DELETE", "/api/profiles/jake/follow", "users"},
		{"GET", "/api/articles", "blog"},
		{"GET", "/api/articles/feed", "blog"},
		{"GET", "/api/articles/some-slug", "blog"},
		{"DELETE", "/api/articles/some-slug/comments/3", "blog"},
		{"POST", "/api/articles/some-slug/favorite", "blog"},
		{"GET", "/api/tags", "blog"},
		{"GET", "/api/categories", "blog"},
		{"GET", "/", "web"},
		{"GET", "/article/x", "web"},
	}
	for _, tt := range tests {
		rec := f.do(tt.method, tt.path, "", nil)
		require.Equal(t, 200, rec.Code, "%s %s", tt.method, tt.path)
		require.Equal(t, tt.want, rec.Header().Get("X-Backend"), "%s %s", tt.method, tt.path)
		require.Equal(t, "203.0.113.9", rec.Header().Get("X-Saw-Forwarded-For"))
		require.NotEmpty(t, rec.Header().Get("X-Saw-Request-Id"))
	}
}

func TestInternalAndUnknownAPIRoutesAreNotRouted(t *testing.T) {
	t.Parallel()
	f := newGateway(t, nil)
	for _, p := range []string{"/api/internal/users/accounts", "/api/nope", "/api/articles/a/b/c"} {
		rec := f.do("GET", p, "", nil)
		require.Equal(t, 404, rec.Code, p)
		require.Empty(t, rec.Header().Get("X-Backend"), p)
		require.Contains(t, rec.Body.String(), `"errors"`)
	}
	// /internal/... is not an API path: it goes to the web UI, never to a service.
	rec := f.do("POST", "/internal/users/accounts", "{}", nil)
	require.Equal(t, "web", rec.Header().Get("X-Backend"))
}

func TestClientCannotSpoofItsIP(t *testing.T) {
	t.Parallel()
	f := newGateway(t, nil)
	rec := f.do("GET", "/api/tags", "", map[string]string{"X-Real-Ip": "1.2.3.4", "X-Forwarded-For": "1.2.3.4"})
	require.Equal(t, "203.0.113.9", rec.Header().Get("X-Saw-Forwarded-For"))
	require.Empty(t, rec.Header().Get("X-Saw-Real-Ip"))
}

func TestCORS(t *testing.T) {
	t.Parallel()
	f := newGateway(t, nil)
	rec := f.do("OPTIONS", "/api/articles", "", map[string]string{
		"Origin": "https://app.example", "Access-Control-Request-Method": "POST",
		"Access-Control-Request-Headers": "authorization,content-type",
	})
	require.Equal(t, 204, rec.Code)
	require.Equal(t, "*", rec.Header().Get("Access-Control-Allow-Origin"))
	require.Contains(t, rec.Header().Get("Access-Control-Allow-Methods"), "DELETE")
	require.Contains(t, rec.Header().Get("Access-Control-Allow-Headers"), "Authorization")
	require.Contains(t, rec.Header().Get("Access-Control-Allow-Headers"), "Idempotency-Key", "browsers may send it (ADR 0013)")
	require.Empty(t, rec.Header().Get("X-Backend"), "preflight is answered by the gateway")

	rec = f.do("GET", "/api/tags", "", map[string]string{"Origin": "https://app.example"})
	require.Equal(t, "*", rec.Header().Get("Access-Control-Allow-Origin"))

	restricted := newGateway(t, func(c *gateway.Config) { c.CORSOrigins = config.StringList{"https://ok.example"} })
	rec = restricted.do("GET", "/api/tags", "", map[string]string{"Origin": "https://evil.example"})
	require.Empty(t, rec.Header().Get("Access-Control-Allow-Origin"))
	rec = restricted.do("GET", "/api/tags", "", map[string]string{"Origin": "https://ok.example"})
	require.Equal(t, "https://ok.example", rec.Header().Get("Access-Control-Allow-Origin"))
	require.Contains(t, rec.Header().Values("Vary"), "Origin")
}

func TestTokensAreVerifiedAtTheEdge(t *testing.T) {
	t.Parallel()
	f := newGateway(t, nil)
	rec := f.do("GET", "/api/user", "", map[string]string{"Authorization": "Token " + f.issuer.User(t, 7, "jake")})
	require.Equal(t, 200, rec.Code)

	for _, h := range []string{"Token garbage", "Basic dXNlcjpwYXNz", "Token", "Token " + f.issuer.User(t, 7, "jake") + "x"} {
		rec = f.do("GET", "/api/articles", "", map[string]string{"Authorization": h})
		require.Equal(t, 401, rec.Code, h)
		require.Empty(t, rec.Header().Get("X-Backend"), h)
		require.Contains(t, rec.Body.String(), `{"errors":{"body":[`)
	}
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	f := newGateway(t, nil)
	rec := f.do("POST", "/api/articles", strings.Repeat("x", 2048), map[string]string{"Content-Type": "application/json"})
	require.Equal(t, 413, rec.Code)
	require.Contains(t, rec.Body.String(), "request body is larger than 1024 bytes")
}

func TestRateLimitPerIP(t *testing.T) {
	t.Parallel()
	f := newGateway(t, func(c *gateway.Config) { c.RateLimit = 3 })
	for i := range 3 {
		require.Equal(t, 200, f.do("GET", "/api/tags", "", nil).Code, "request %d", i)
	}
	rec := f.do("GET", "/api/tags", "", nil)
	require.Equal(t, 429, rec.Code)
	secs, err := strconv.Atoi(rec.Header().Get("Retry-After"))
	require.NoError(t, err)
	require.True(t, secs >= 1 && secs <= 60, "Retry-After %d", secs)
}
