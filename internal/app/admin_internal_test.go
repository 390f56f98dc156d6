package app

import (
	"flag"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/tungsten-blog/tungsten/internal/platform/faults"
)

func adminFor(t *testing.T, args ...string) http.Handler {
	t.Helper()
	var cfg Config
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	require.NoError(t, fs.Parse(args))
	a := &App{cfg: cfg, log: slog.New(slog.DiscardHandler), level: new(slog.LevelVar), reg: prometheus.NewRegistry()}
	a.faults = faults.New(faults.Deps{Logger: a.log, Registerer: a.reg})
	return a.adminHandler()
}

func adminDo(h http.Handler, method, path, peer string, header map[string]string) int {
	req := httptest.NewRequest(method, path, strings.NewReader(`{"level":"debug"}`))
	req.RemoteAddr = peer
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}

func TestAbuse_SecureDefaults_AdminListener(t *testing.T) {
	t.Parallel()
	var cfg Config
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	require.Equal(t, "127.0.0.1:9090", fs.Lookup("admin-addr").DefValue, "admin listens on loopback unless told otherwise")

	h := adminFor(t)
	require.Equal(t, http.StatusNotFound, adminDo(h, "GET", "/debug/pprof/cmdline", "127.0.0.1:1", nil), "pprof is opt-in")
	require.Equal(t, http.StatusOK, adminDo(h, "GET", "/admin/log-level", "10.0.0.9:1", nil), "reading the level is harmless")
	require.Equal(t, http.StatusOK, adminDo(h, "POST", "/admin/log-level", "127.0.0.1:1", nil))
	require.Equal(t, http.StatusOK, adminDo(h, "PUT", "/admin/log-level", "[::1]:1", nil))
	require.Equal(t, http.StatusForbidden, adminDo(h, "PUT", "/admin/log-level", "10.0.0.9:1", nil), "no token: loopback only")
	require.Equal(t, http.StatusForbidden, adminDo(h, "PUT", "/admin/log-level", "127.0.0.1:1", map[string]string{"X-Forwarded-For": "203.0.113.1"}),
		"a proxy on the host does not make its client local")
	require.Equal(t, http.StatusMethodNotAllowed, adminDo(h, "DELETE", "/admin/log-level", "127.0.0.1:1", nil))

	h = adminFor(t, "--admin.token=s3cret-operator", "--admin.pprof")
	require.Equal(t, http.StatusOK, adminDo(h, "GET", "/debug/pprof/cmdline", "127.0.0.1:1", nil))
	require.Equal(t, http.StatusForbidden, adminDo(h, "PUT", "/admin/log-level", "127.0.0.1:1", nil), "with a token, the token is required")
	require.Equal(t, http.StatusForbidden, adminDo(h, "PUT", "/admin/log-level", "10.0.0.9:1", map[string]string{"Authorization": "Bearer wrong"}))
	require.Equal(t, http.StatusOK, adminDo(h, "PUT", "/admin/log-level", "10.0.0.9:1", map[string]string{"Authorization": "Bearer s3cret-operator"}))
}

// Without an operator token, fault injection is refused outright, even from
// loopback (ADR 0016), with a message that says how to turn it on.
func TestAbuse_SecureDefaults_FaultInjectionOffWithoutToken(t *testing.T) {
	t.Parallel()
	h := adminFor(t)
	for _, m := range []string{"GET", "PUT", "DELETE"} {
		for _, peer := range []string{"127.0.0.1:1", "[::1]:1", "10.0.0.9:1"} {
			req := httptest.NewRequest(m, "/admin/faults", strings.NewReader(`{"unready":true}`))
			req.RemoteAddr = peer
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			require.Equal(t, http.StatusForbidden, rec.Code, "%s from %s", m, peer)
			require.Contains(t, rec.Body.String(), `{"errors":{"body":["fault injection is off: start the process with --admin.token`)
		}
	}
	h = adminFor(t, "--admin.token=s3cret-operator")
	require.Equal(t, http.StatusForbidden, adminDo(h, "GET", "/admin/faults", "127.0.0.1:1", nil), "with a token, loopback is not enough")
	require.Equal(t, http.StatusOK, adminDo(h, "GET", "/admin/faults", "10.0.0.9:1", map[string]string{"Authorization": "Bearer s3cret-operator"}))
}
