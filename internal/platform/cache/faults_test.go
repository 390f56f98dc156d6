package cache_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/tungsten-blog/tungsten/internal/platform/cache"
	"github.com/tungsten-blog/tungsten/internal/platform/faults"
	"github.com/tungsten-blog/tungsten/internal/platform/testenv"
)

func redisFault(t *testing.T) *faults.Switch {
	t.Helper()
	sw := faults.New(faults.Deps{})
	set, err := faults.Parse([]byte(`{"dependency":{"target":"redis"}}`), 0)
	require.NoError(t, err)
	sw.Apply(set, "test")
	return sw
}

// faulted checks that c behaves as an unreachable cache: a miss, a dropped
// write, a failing Incr, each counted as an error.
func faulted(t *testing.T, c cache.Cache, reg *prometheus.Registry) {
	t.Helper()
	ctx := context.Background()
	c.Set(ctx, "k", []byte("v"), time.Minute)
	_, ok := c.Get(ctx, "k")
	require.False(t, ok)
	_, err := c.Incr(ctx, "gen")
	require.Error(t, err, "the injected error, or Redis's open breaker after the failed Set")
	require.Positive(t, testutil.CollectAndCount(reg, "tungsten_cache_errors_total"))
}

func TestMemoryInjectedFault(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	sw := redisFault(t)
	c := cache.NewMemory(10, cache.NewMetrics(reg, "memory")).WithFaults(sw)
	faulted(t, c, reg)
	_, err := c.Incr(context.Background(), "gen")
	require.True(t, errors.As(err, new(*faults.Error)), "%v", err)
	sw.Clear("test")
	contract(t, c)
}

func TestRedisInjectedFault(t *testing.T) {
	t.Parallel()
	client := newRedis(t, testenv.URL(t, testenv.EnvRedis))
	sw := redisFault(t)
	client.AddHook(cache.NewFaultHook(sw))
	reg := prometheus.NewRegistry()
	c := cache.NewRedis(client, testenv.Name("fault")+":", slog.New(slog.DiscardHandler), cache.NewMetrics(reg, "redis"))
	faulted(t, c, reg)
	require.ErrorAs(t, client.Ping(context.Background()).Err(), new(*faults.Error), "the hook fails every command of the client")
	sw.Clear("test")
	require.NoError(t, client.Ping(context.Background()).Err())
}
