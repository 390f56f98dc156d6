package app_test

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tungsten-blog/tungsten/internal/app"
	"github.com/tungsten-blog/tungsten/internal/platform/telemetry"
)

type syncBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newFlagSet(cfg *app.Config) *flag.FlagSet {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	return fs
}

func newApp(t *testing.T, dataDir string, args ...string) (*app.App, *syncBuffer) {
	t.Helper()
	var cfg app.Config
	fs := newFlagSet(&cfg)
	require.NoError(t, fs.Parse(append([]string{"--http-addr=127.0.0.1:0", "--admin-addr=127.0.0.1:0", "--data-dir=" + dataDir}, args...)))
	logs := &syncBuffer{}
	level := new(slog.LevelVar)
	trc, err := telemetry.NewTracing(context.Background(), "test", "test")
	require.NoError(t, err)
	a, err := app.New(cfg, app.Build{Version: "test"}, telemetry.NewLogger(logs, level), level, trc)
	require.NoError(t, err)
	return a, logs
}

func get(t *testing.T, url string) (int, map[string]any) {
	t.Helper()
	res, err := http.Get(url)
	require.NoError(t, err)
	defer res.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(res.Body).Decode(&body)
	return res.StatusCode, body
}

// The embedded default starts every module, reports ready, keeps data across
// a restart, and on shutdown turns not-ready before it stops serving.
func TestEmbeddedLifecycle(t *testing.T) {
	dir := t.TempDir()
	a, logs := newApp(t, dir, "--drain-delay=400ms")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	started := time.Now()
	go func() { done <- a.Run(ctx, started) }()
	select {
	case <-a.Started():
	case err := <-done:
		require.Failf(t, "run failed", "%v", err)
	case <-time.After(30 * time.Second):
		require.Fail(t, "not started")
	}
	t.Logf("embedded default ready in %v", time.Since(started))
	admin := "http://" + a.AdminAddr()
	public := "http://" + a.PublicAddr()

	code, body := get(t, admin+"/readyz")
	require.Equal(t, 200, code, body)
	require.ElementsMatch(t, []any{"database", "server", "cache", "events", "verifier", "auth", "users", "blog", "web", "gateway", "all"}, body["modules"])
	code, _ = get(t, admin+"/healthz")
	require.Equal(t, 200, code)

	// Register through the public listener.
	res, err := http.Post(public+"/api/users", "application/json",
		strings.NewReader(`{"user":{"username":"persist","email":"persist@example.com","password":"longenough"}}`))
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, 201, res.StatusCode)

	// Metrics carry the service label of every module and the build info.
	res, err = http.Get(admin + "/metrics")
	require.NoError(t, err)
	metrics, err := io.ReadAll(res.Body)
	res.Body.Close()
	require.NoError(t, err)
	for _, want := range []string{`tungsten_build_info{`, `service="gateway"`, `service="auth"`, `service="users"`, `tungsten_http_requests_total{`, `go_sql_`} {
		require.Contains(t, string(metrics), want)
	}

	cancel()
	require.Eventually(t, func() bool { c, _ := get(t, admin+"/readyz"); return c == 503 }, 300*time.Millisecond, 10*time.Millisecond,
		"readiness fails first, while the drain delay runs")
	res, err = http.Get(public + "/api/tags")
	require.NoError(t, err, "requests are still served during the drain")
	res.Body.Close()
	require.Equal(t, 200, res.StatusCode)
	require.True(t, res.Close, "a drain-time answer closes its connection (Connection: close), so kept-alive clients reconnect elsewhere")
	require.NoError(t, <-done)
	require.Contains(t, logs.String(), `"msg":"stopped"`)

	// Restart on the same data directory: the account is still there.
	b, _ := newApp(t, dir, "--drain-delay=0s")
	ctx2, cancel2 := context.WithCancel(context.Background())
	done2 := make(chan error, 1)
	go func() { done2 <- b.Run(ctx2, time.Now()) }()
	<-b.Started()
	res, err = http.Post("http://"+b.PublicAddr()+"/api/users/login", "application/json",
		strings.NewReader(`{"user":{"email":"persist@example.com","password":"longenough"}}`))
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, 200, res.StatusCode, "data survives a restart")
	cancel2()
	require.NoError(t, <-done2)
}

func TestTargetsResolveToTheirDependencies(t *testing.T) {
	t.Parallel()
	a, _ := newApp(t, t.TempDir(), "--target=blog", "--users-url=http://users:8080", "--auth-url=http://auth:8080")
	require.Equal(t, []string{"cache", "database", "events", "server", "verifier", "blog"}, a.Modules())
	require.NotContains(t, a.Modules(), "web")

	a, _ = newApp(t, t.TempDir(), "--target=gateway", "--auth-url=http://a", "--users-url=http://u", "--blog-url=http://b", "--web-url=http://w")
	require.NotContains(t, a.Modules(), "database", "a gateway alone opens no database")
	require.Contains(t, a.Modules(), "events", "a gateway follows token revocations (ADR 0011)")
}

// With the gateway in the process, web pages pass through it too: its rate
// limit applies to them (no route around the gateway's policies).
func TestWebPagesPassThroughTheGateway(t *testing.T) {
	t.Parallel()
	a, _ := newApp(t, t.TempDir(), "--drain-delay=0s", "--gateway.rate-limit=2", "--gateway.rate-window=1m")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, time.Now()) }()
	t.Cleanup(func() { cancel(); <-done })
	<-a.Started()
	var codes []int
	for range 3 {
		res, err := http.Get("http://" + a.PublicAddr() + "/login")
		require.NoError(t, err)
		res.Body.Close()
		codes = append(codes, res.StatusCode)
	}
	require.Equal(t, 429, codes[2], "codes: %v", codes)
}
