package ratelimit_test

import (
	"context"
	"log/slog"
	"strings"
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
	client, prefix := sharedRedis(t)
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

// Batched limiters (gateway replicas counting locally) still share one
// budget: together they admit the limit and at most 2×Batch more per replica,
// and each reports the shared count back in time to stop.
func TestBatchedRedisBudgetIsSharedByReplicas(t *testing.T) {
	t.Parallel()
	client, prefix := sharedRedis(t)
	log := slog.New(slog.DiscardHandler)
	replicas := []*ratelimit.Redis{ratelimit.NewRedis(client, prefix, log, nil), ratelimit.NewRedis(client, prefix, log, nil)}
	rule := ratelimit.Rule{Name: "batched", Limit: 200, Window: time.Hour, Batch: 10}
	var mu sync.Mutex
	allowed := map[int]int{}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for range 100 {
				if replicas[w%2].Allow(context.Background(), rule, "203.0.113.2").Allowed {
					mu.Lock()
					allowed[w%2]++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	total := allowed[0] + allowed[1]
	require.GreaterOrEqual(t, total, rule.Limit, "the whole budget is usable")
	require.LessOrEqual(t, total, rule.Limit+2*len(replicas)*rule.Batch, "overshoot is bounded by 2×Batch per replica")
	require.Positive(t, allowed[0])
	require.Positive(t, allowed[1])
	for _, l := range replicas {
		require.False(t, l.Allow(context.Background(), rule, "203.0.113.2").Allowed, "both replicas know the budget is spent")
	}
	keys, err := client.Keys(context.Background(), prefix+"rl:batched:203.0.113.2:*").Result()
	require.NoError(t, err)
	shared := 0
	for _, k := range keys {
		n, err := client.Get(context.Background(), k).Int()
		require.NoError(t, err)
		shared += n
	}
	require.GreaterOrEqual(t, shared, rule.Limit, "the shared counter holds the replicas' counts")
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

// sharedRedis is the test Redis and a key prefix of this test's own, whose
// keys are deleted when the test ends.
func sharedRedis(t *testing.T) (*redis.Client, string) {
	t.Helper()
	client := redisClient(t, testenv.URL(t, testenv.EnvRedis))
	prefix := testenv.Name("test:") + ":"
	t.Cleanup(func() {
		keys, _ := client.Keys(context.Background(), prefix+"*").Result()
		if len(keys) > 0 {
			client.Del(context.Background(), keys...)
		}
	})
	return client, prefix
}

// A key built from client input (a 1 MB "email") must not be kept as it is.
func TestAbuse_Costs_LongKeysAreStoredBounded(t *testing.T) {
	t.Parallel()
	l := ratelimit.NewMemory(nil)
	rule := ratelimit.Rule{Name: "t", Limit: 2, Window: time.Minute}
	huge := strings.Repeat("x", 1<<20)
	require.True(t, l.Allow(context.Background(), rule, huge).Allowed)
	require.True(t, l.Allow(context.Background(), rule, huge).Allowed)
	require.False(t, l.Allow(context.Background(), rule, huge).Allowed, "the same long key is still one budget")
	require.True(t, l.Allow(context.Background(), rule, huge+"y").Allowed, "a different long key is another")
	require.LessOrEqual(t, l.KeyBytes(), 4*(len(rule.Name)+1+len("sha256:")+64), "stored keys are hashes, not the input")
}
