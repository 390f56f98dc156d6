package app_test

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/tungsten-blog/tungsten/internal/app"
	"github.com/tungsten-blog/tungsten/internal/platform/telemetry"
)

// One request is one trace: registering a user crosses the gateway, auth,
// users (HTTP in process), its database, the outbox relay's NATS publish and
// the blog's consumer, and every span shares the request's trace ID.
func TestOneRequestIsOneConnectedTrace(t *testing.T) {
	t.Parallel()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	trc := &telemetry.Tracing{Provider: tp, Propagator: propagation.TraceContext{}}

	var cfg app.Config
	fs := newFlagSet(&cfg)
	require.NoError(t, fs.Parse([]string{"--http-addr=127.0.0.1:0", "--admin-addr=127.0.0.1:0", "--data-dir=" + t.TempDir(), "--drain-delay=0s"}))
	level := new(slog.LevelVar)
	logs := &syncBuffer{}
	a, err := app.New(cfg, app.Build{Version: "test"}, telemetry.NewLogger(logs, level), level, trc)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, time.Now()) }()
	t.Cleanup(func() { cancel(); <-done })
	<-a.Started()

	res, err := http.Post("http://"+a.PublicAddr()+"/api/users", "application/json",
		strings.NewReader(`{"user":{"username":"traced","email":"traced@example.com","password":"longenough"}}`))
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, 201, res.StatusCode)

	const consumed = "process tungsten.users.user.registered"
	var spans []sdktrace.ReadOnlySpan
	require.Eventually(t, func() bool {
		spans = rec.Ended()
		for _, s := range spans {
			if s.Name() == consumed {
				return true
			}
		}
		return false
	}, 10*time.Second, 20*time.Millisecond, "the blog consumes the registration event")

	var root sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.Name() == "POST /api/users" && !s.Parent().IsValid() {
			root = s
		}
	}
	require.NotNil(t, root, "the gateway's server span is the root")
	names := map[string]bool{}
	for _, s := range spans {
		if s.SpanContext().TraceID() == root.SpanContext().TraceID() {
			names[s.Name()] = true
		}
	}
	for _, want := range []string{
		"POST /api/users",                     // gateway, then auth
		"POST",                                // auth's client call to users
		"POST /internal/users/accounts",       // users
		"INSERT users",                        // users' SQL
		"send tungsten.users.user.registered", // outbox relay → NATS
		consumed,                              // blog's consumer
	} {
		require.True(t, names[want], "span %q missing from the request's trace; trace has %v", want, names)
	}

	// The access-log line of the request carries the same trace ID.
	require.Contains(t, logs.String(), `"trace_id":"`+root.SpanContext().TraceID().String()+`"`)
}
