package cache_test

import (
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/tungsten-blog/tungsten/internal/platform/cache"
	"github.com/tungsten-blog/tungsten/internal/platform/testenv"
)

// contract runs the behaviour every Cache must have.
func contract(t *testing.T, c cache.Cache) {
	ctx := context.Background()
	_, ok := c.Get(ctx, "k")
	require.False(t, ok)
	c.Set(ctx, "k", []byte("v"), time.Minute)
	v, ok := c.Get(ctx, "k")
	require.True(t, ok)
	require.Equal(t, "v", string(v))
	c.Delete(ctx, "k", "missing")
	_, ok = c.Get(ctx, "k")
	require.False(t, ok)

	c.Set(ctx, "a", []byte("1"), time.Minute)
	require.Equal(t, [][]byte{[]byte("1"), nil}, c.GetMany(ctx, "a", "missing"))

	// A missing counter starts from the clock, so a counter that was
	// evicted (here: deleted) never repeats a value it had before.
	start := time.Now().UnixMicro()
	n, err := c.Incr(ctx, "gen")
	require.NoError(t, err)
	require.GreaterOrEqual(t, n, start-5_000_000, "starts near the clock in µs (Redis's clock may differ a little)")
	m, err := c.Incr(ctx, "gen")
	require.NoError(t, err)
	require.Equal(t, n+1, m)
	c.Delete(ctx, "gen")
	time.Sleep(2 * time.Millisecond)
	r, err := c.Incr(ctx, "gen")
	require.NoError(t, err)
	require.Greater(t, r, m, "a counter lost to eviction does not go back")

	c.Set(ctx, "short", []byte("x"), 50*time.Millisecond)
	require.Eventually(t, func() bool { _, ok := c.Get(ctx, "short"); return !ok }, 3*time.Second, 20*time.Millisecond)
}

func TestMemoryContract(t *testing.T) {
	t.Parallel()
	contract(t, cache.NewMemory(100, nil))
}

func TestMemoryEvictsLeastRecentlyUsed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := cache.NewMemory(2, nil)
	c.Set(ctx, "a", []byte("1"), time.Minute)
	c.Set(ctx, "b", []byte("2"), time.Minute)
	_, _ = c.Get(ctx, "a")
	c.Set(ctx, "c", []byte("3"), time.Minute)
	_, ok := c.Get(ctx, "b")
	require.False(t, ok, "b was least recently used")
	_, ok = c.Get(ctx, "a")
	require.True(t, ok)
}

func newRedis(t *testing.T, url string) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(url)
	require.NoError(t, err)
	opts.MaxRetries = 0
	opts.DialTimeout = 200 * time.Millisecond
	opts.ContextTimeoutEnabled = true // as internal/app configures it
	client := redis.NewClient(opts)
	t.Cleanup(func() { _ = client.Close() })
	return client
}

func TestRedisContract(t *testing.T) {
	t.Parallel()
	client := newRedis(t, testenv.URL(t, testenv.EnvRedis))
	prefix := testenv.Name("test:") + ":"
	t.Cleanup(func() {
		keys, _ := client.Keys(context.Background(), prefix+"*").Result()
		if len(keys) > 0 {
			client.Del(context.Background(), keys...)
		}
	})
	contract(t, cache.NewRedis(client, prefix, slog.New(slog.DiscardHandler), cache.NewMetrics(prometheus.NewRegistry(), "redis")))
}

func TestRedisDownIsAMissNotAnError(t *testing.T) {
	t.Parallel()
	c := cache.NewRedis(newRedis(t, "redis://127.0.0.1:1/0"), "x:", slog.New(slog.DiscardHandler), nil)
	ctx := context.Background()
	start := time.Now()
	c.Set(ctx, "k", []byte("v"), time.Minute)
	_, ok := c.Get(ctx, "k")
	require.False(t, ok)
	c.Delete(ctx, "k")
	_, err := c.Incr(ctx, "gen")
	require.Error(t, err)
	require.Less(t, time.Since(start), 2*time.Second, "a dead Redis must not stall callers")
}

// After one failure the cache skips Redis for a while: an outage costs a
// request nothing, not a timeout per cache call.
func TestRedisDownIsSkippedAfterAFailure(t *testing.T) {
	t.Parallel()
	// A listener that accepts and never answers: every call would hit the timeout.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	c := cache.NewRedis(newRedis(t, "redis://"+ln.Addr().String()+"/0"), "x:", slog.New(slog.DiscardHandler), nil)
	ctx := context.Background()
	_, ok := c.Get(ctx, "k") // pays the timeout once
	require.False(t, ok)
	start := time.Now()
	for range 50 {
		_, ok := c.Get(ctx, "k")
		require.False(t, ok)
	}
	require.Less(t, time.Since(start), 50*time.Millisecond)
}

// A call cancelled by its caller (the client hung up) says nothing about
// Redis: it must not open the breaker, or every other request would skip
// the cache for a second.
func TestCancelledCallDoesNotOpenTheBreaker(t *testing.T) {
	t.Parallel()
	client := newRedis(t, testenv.URL(t, testenv.EnvRedis))
	c := cache.NewRedis(client, testenv.Name("cancel")+":", slog.New(slog.DiscardHandler), nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, ok := c.Get(ctx, "k")
	require.False(t, ok)
	c.Set(context.Background(), "k", []byte("v"), time.Minute)
	v, ok := c.Get(context.Background(), "k")
	require.True(t, ok, "the cache was skipped after a cancelled call")
	require.Equal(t, "v", string(v))
}
