package ratelimit_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/tungsten-blog/tungsten/internal/platform/ratelimit"
	"github.com/tungsten-blog/tungsten/internal/platform/testenv"
)

func TestMemoryLimitsPerKey(t *testing.T) {
	t.Parallel()
	l := ratelimit.NewMemory(ratelimit.NewMetrics(prometheus.NewRegistry()))
	rule := ratelimit.Rule{Name: "t", Limit: 3, Window: time.Hour}
	ctx := context.Background()
	for range 3 {
		require.True(t, l.Allow(ctx, rule, "a").Allowed)
	}
	d := l.Allow(ctx, rule, "a")
	require.False(t, d.Allowed)
	require.Positive(t, d.RetryAfter)
	require.True(t, l.Allow(ctx, rule, "b").Allowed, "keys have separate budgets")
}

func redisClient(t *testing.T, url string) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(url)
	require.NoError(t, err)
	opts.MaxRetries = 0
	opts.DialTimeout = 200 * time.Millisecond
	c := redis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Two limiters over one Redis stand for two gateway replicas: together they
// must allow no more than the limit (the reference platform's replicas each
// allowed the full limit).
func TestRedisBudgetIsSharedByReplicas(t *testing.T) {
	t.Parallel()
	client := redisClient(t, testenv.URL(t, testenv.EnvRedis))
	prefix := testenv.Name("test:") + ":"
	t.Cleanup(func() {
		keys, _ := client.Keys(context.Background(), prefix+"*").Result()
		if len(keys) > 0 {
			client.Del(context.Background(), keys...)
		}
	})
	log := slog.New(slog.DiscardHandler)
	a := ratelimit.NewRedis(client, prefix, log, nil)
	b := ratelimit.NewRedis(client, prefix, log, nil)
	rule := ratelimit.Rule{Name: "shared", Limit: 10, Window: time.Hour}
	var mu sync.Mutex
	allowed := 0
	var wg sync.WaitGroup
	for i := range 30 {
		l := a
		if i%2 == 1 {
			l = b
		}
		wg.Go(func() {
			if l.Allow(context.Background(), rule, "203.0.113.1").Allowed {
				mu.Lock()
				allowed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Equal(t, 10, allowed)
}

func TestRedisDownFallsBackToLocalLimits(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	l := ratelimit.NewRedis(redisClient(t, "redis://127.0.0.1:1/0"), "x:", slog.New(slog.DiscardHandler), ratelimit.NewMetrics(reg))
	rule := ratelimit.Rule{Name: "fb", Limit: 2, Window: time.Hour}
	ctx := context.Background()
	require.True(t, l.Allow(ctx, rule, "k").Allowed)
	require.True(t, l.Allow(ctx, rule, "k").Allowed)
	require.False(t, l.Allow(ctx, rule, "k").Allowed, "limits still hold while Redis is down")
}
