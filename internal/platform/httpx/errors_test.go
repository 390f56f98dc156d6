package httpx_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/tungsten-blog/tungsten/internal/platform/errs"
	"github.com/tungsten-blog/tungsten/internal/platform/httpx"
)

// A database that cannot serve is 503 with Retry-After (it is not a bug and
// may pass in a moment); a value it refuses is the client's 422.
func TestDatabaseErrorsMapToUnavailableOrInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		err    error
		status int
	}{
		{"connection refused", fmt.Errorf("listing articles: %w", &net.OpError{Op: "dial", Net: "tcp", Err: fmt.Errorf("connection refused")}), 503},
		{"admin shutdown", fmt.Errorf("q: %w", &pgconn.PgError{Code: "57P01", Message: "terminating connection due to administrator command"}), 503},
		{"too many connections", &pgconn.PgError{Code: "53300"}, 503},
		{"NUL byte", fmt.Errorf("insert: %w", &pgconn.PgError{Code: "22021", Message: "invalid byte sequence for encoding \"UTF8\": 0x00"}), 422},
		{"index row too large", &pgconn.PgError{Code: "54000"}, 422},
		{"a bug", &pgconn.PgError{Code: "42703", Message: "column \"secret\" does not exist"}, 500},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		httpx.WriteError(rec, httptest.NewRequest("GET", "/", nil), tt.err)
		require.Equal(t, tt.status, rec.Code, tt.name)
		if tt.status == 503 {
			require.Equal(t, "1", rec.Header().Get("Retry-After"), tt.name)
		}
		require.NotContains(t, rec.Body.String(), "secret")
		require.NotContains(t, rec.Body.String(), "0x00")
	}
	rec := httptest.NewRecorder()
	httpx.WriteError(rec, httptest.NewRequest("GET", "/", nil), errs.Unavailable("users", fmt.Errorf("down")))
	require.Equal(t, "1", rec.Header().Get("Retry-After"), "every 503 says when to come back")
}

// A full disk is a 503 with Retry-After whose message says the storage is
// full (the write was not committed; it passes once space is freed), on
// either engine.
func TestFullDiskIs503SayingSo(t *testing.T) {
	t.Parallel()
	for name, err := range map[string]error{
		"postgres": fmt.Errorf("creating article: %w", &pgconn.PgError{Code: "53100", Message: "could not extend file: No space left on device"}),
		"file":     fmt.Errorf("writing: %w", &os.PathError{Op: "write", Path: "/data/x", Err: syscall.ENOSPC}),
	} {
		rec := httptest.NewRecorder()
		httpx.WriteError(rec, httptest.NewRequest("POST", "/api/articles", nil), err)
		require.Equal(t, 503, rec.Code, name)
		require.Equal(t, "1", rec.Header().Get("Retry-After"), name)
		require.JSONEq(t, `{"errors":{"body":["the service cannot store data right now: its storage is full"]}}`, rec.Body.String(), name)
	}
}

// A request whose client hung up is a 499 logged at info, not a 500 or a
// 503 logged as an error (which alerts and the availability objective count).
func TestClientHangUpIs499NotAServerError(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	var logs bytes.Buffer
	mux := http.NewServeMux()
	mux.Handle("GET /hangup", httpx.Handler(func(w http.ResponseWriter, r *http.Request) error {
		return errs.Unavailable("users", fmt.Errorf("GET /internal/profiles: %w", context.Canceled))
	}))
	mux.Handle("GET /cancelled", httpx.Handler(func(w http.ResponseWriter, r *http.Request) error {
		return fmt.Errorf("listing articles: %w", context.Canceled)
	}))
	h := newInstrumented(t, reg, &logs, mux)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, path := range []string{"/hangup", "/cancelled"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil).WithContext(ctx))
		require.Equal(t, httpx.StatusClientClosedRequest, rec.Code)
		require.Equal(t, 1.0, counterValue(reg, path, "499"))
	}
	require.Contains(t, logs.String(), `"msg":"client closed request"`)
	require.NotContains(t, logs.String(), `"level":"ERROR"`)

	// The same error without a hang-up stays a server error.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/cancelled", nil))
	require.Equal(t, 500, rec.Code)
}
