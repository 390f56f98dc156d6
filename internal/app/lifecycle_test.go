package app_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tungsten-blog/tungsten/internal/platform/events"
	"github.com/tungsten-blog/tungsten/internal/platform/testenv"
)

// runUntilExit runs a and returns Run's error, failing the test if the
// process is still running after limit.
func runUntilExit(t *testing.T, run func(ctx context.Context) error, limit time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	select {
	case err := <-done:
		return err
	case <-time.After(limit):
		require.Failf(t, "the process did not exit", "within %v", limit)
		return nil
	}
}

// A module that cannot start (users, with NATS unreachable) after the
// server started used to hang the process for ever: it must exit non-zero
// within the shutdown timeout, with the cause.
func TestModuleFailingToStartExitsTheProcess(t *testing.T) {
	t.Parallel()
	a, logs := newApp(t, t.TempDir(), "--target=users,auth", "--nats-url=nats://127.0.0.1:1", "--shutdown-timeout=3s")
	err := runUntilExit(t, func(ctx context.Context) error { return a.Run(ctx, time.Now()) }, 15*time.Second)
	require.ErrorContains(t, err, "starting module users")
	select {
	case <-a.Started():
		require.Fail(t, "reported started")
	default:
	}
	require.NotContains(t, logs.String(), `"msg":"ready"`)
}

// A background worker that dies (the blog's consumer, whose durable is
// deleted under it) fails the process: Run logs the cause, shuts down and
// returns an error, so the process exits non-zero and is restarted.
func TestDeadConsumerFailsTheProcess(t *testing.T) {
	t.Parallel()
	url := testenv.URL(t, testenv.EnvNATS)
	ns := testenv.Name("life")
	a, logs := newApp(t, t.TempDir(), "--nats-url="+url, "--nats-namespace="+ns, "--drain-delay=0s", "--shutdown-timeout=5s")
	nc, err := nats.Connect(url)
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	t.Cleanup(func() {
		for _, p := range []string{"users", "blog"} {
			_ = js.DeleteStream(context.Background(), events.Namespace(ns).Stream(p))
		}
	})
	err = runUntilExit(t, func(ctx context.Context) error {
		go func() {
			select {
			case <-a.Started():
			case <-ctx.Done():
				return
			}
			time.Sleep(200 * time.Millisecond)
			durable := strings.ToUpper(ns) + "_blog-cache"
			// Not ctx: the app may see the consumer go, fail and end ctx before
			// the delete's reply arrives, which is the behaviour under test.
			dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			// assert, not require: this goroutine is not the test's.
			assert.NoError(t, js.DeleteConsumer(dctx, events.Namespace(ns).Stream("blog"), durable), "deleting %s", durable)
		}()
		return a.Run(ctx, time.Now())
	}, 30*time.Second)
	require.ErrorContains(t, err, "module blog failed: own events consumer")
	require.Contains(t, logs.String(), "a module failed; shutting down")
	require.Contains(t, logs.String(), `"msg":"stopped"`)
}

// A module that fails to initialise (events, with a NATS URL it cannot
// use) leaves nothing open: the databases opened before it are closed.
func TestFailedInitClosesTheDatabases(t *testing.T) {
	t.Parallel()
	pgURL := freshPostgres(t)
	a, _ := newApp(t, t.TempDir(), "--target=users", "--auth-url=http://127.0.0.1:1", "--postgres-url="+pgURL, "--nats-url=bogus://nowhere:-1")
	err := runUntilExit(t, func(ctx context.Context) error { return a.Run(ctx, time.Now()) }, 15*time.Second)
	require.ErrorContains(t, err, "initialising module events")

	admin, err := sql.Open("pgx", testenv.URL(t, testenv.EnvPostgres))
	require.NoError(t, err)
	t.Cleanup(func() { _ = admin.Close() })
	name := pgURL[strings.LastIndex(pgURL, "/")+1 : strings.Index(pgURL, "?")]
	require.Eventually(t, func() bool {
		var n int
		require.NoError(t, admin.QueryRow(`SELECT COUNT(*) FROM pg_stat_activity WHERE datname = $1`, name).Scan(&n))
		return n == 0
	}, 5*time.Second, 50*time.Millisecond, "connections to the users database were left open")
}
