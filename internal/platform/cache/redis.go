package cache

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/tungsten-blog/tungsten/internal/platform/breaker"
	"github.com/tungsten-blog/tungsten/internal/platform/faults"
)

// Redis is a Cache over a Redis server shared by all replicas. Every call
// has a short deadline so a slow Redis cannot slow requests down much.
type Redis struct {
	client  redis.UniversalClient
	breaker *breaker.Breaker
	prefix  string
	timeout time.Duration
	log     *slog.Logger
	metrics *Metrics
}

// NewRedis wraps client; keys are prefixed with prefix.
func NewRedis(client redis.UniversalClient, prefix string, log *slog.Logger, m *Metrics) *Redis {
	return &Redis{client: client, breaker: breaker.New(time.Second), prefix: prefix, timeout: 100 * time.Millisecond, log: log, metrics: m}
}

// Get implements Cache.
func (c *Redis) Get(ctx context.Context, key string) ([]byte, bool) {
	if !c.breaker.Allow() {
		c.metrics.miss()
		return nil, false
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	v, err := c.client.Get(ctx, c.prefix+key).Bytes()
	switch {
	case errors.Is(err, redis.Nil):
		c.metrics.miss()
		return nil, false
	case err != nil:
		c.fail(ctx, "get", err)
		c.metrics.miss()
		return nil, false
	}
	c.metrics.hit()
	return v, true
}

// GetMany implements Cache with one MGET.
func (c *Redis) GetMany(ctx context.Context, keys ...string) [][]byte {
	out := make([][]byte, len(keys))
	if len(keys) == 0 {
		return out
	}
	if !c.breaker.Allow() {
		for range keys {
			c.metrics.miss()
		}
		return out
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	full := make([]string, len(keys))
	for i, k := range keys {
		full[i] = c.prefix + k
	}
	vals, err := c.client.MGet(ctx, full...).Result()
	if err != nil {
		c.fail(ctx, "mget", err)
		for range keys {
			c.metrics.miss()
		}
		return out
	}
	for i, v := range vals {
		if s, ok := v.(string); ok {
			out[i] = []byte(s)
			c.metrics.hit()
		} else {
			c.metrics.miss()
		}
	}
	return out
}

// Set implements Cache.
func (c *Redis) Set(ctx context.Context, key string, val []byte, ttl time.Duration) {
	if !c.breaker.Allow() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if err := c.client.Set(ctx, c.prefix+key, val, ttl).Err(); err != nil {
		c.fail(ctx, "set", err)
	}
}

// Delete implements Cache.
func (c *Redis) Delete(ctx context.Context, keys ...string) {
	if len(keys) == 0 || !c.breaker.Allow() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	full := make([]string, len(keys))
	for i, k := range keys {
		full[i] = c.prefix + k
	}
	if err := c.client.Del(ctx, full...).Err(); err != nil {
		c.fail(ctx, "delete", err)
	}
}

// Incr implements Cache.
func (c *Redis) Incr(ctx context.Context, key string) (int64, error) {
	if !c.breaker.Allow() {
		return 0, errRedisDown
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	n, err := incrScript.Run(ctx, c.client, []string{c.prefix + key}).Int64()
	if err != nil {
		c.fail(ctx, "incr", err)
	}
	return n, err
}

// incrScript is INCR, except that a missing counter starts from the
// server's clock in microseconds (see Cache.Incr): one clock for every
// replica, so skew cannot make a restarted counter repeat itself.
var incrScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then
  local t = redis.call('TIME')
  redis.call('SET', KEYS[1], t[1] .. string.format('%06d', tonumber(t[2])))
end
return redis.call('INCR', KEYS[1])
`)

var errRedisDown = errors.New("redis is unavailable (circuit open)")

// fail records an error and opens the breaker, so that for a second the
// cache is skipped instead of every request waiting for Redis's timeout.
//
// A call that failed only because the caller's request was cancelled (the
// client hung up) says nothing about Redis: it opens nothing and logs
// nothing. ctx here is the call's (with its own timeout), whose Canceled
// comes from the request.
func (c *Redis) fail(ctx context.Context, op string, err error) {
	if errors.Is(ctx.Err(), context.Canceled) {
		return
	}
	c.breaker.Fail()
	c.metrics.error(op)
	c.log.WarnContext(ctx, "cache unavailable, using the database", "op", op, "error", err)
}

// Metrics counts cache outcomes.
type Metrics struct {
	hits, misses prometheus.Counter
	errors       *prometheus.CounterVec
}

// NewMetrics registers the cache metrics with reg (nil reg: not exported).
func NewMetrics(reg prometheus.Registerer, backend string) *Metrics {
	l := prometheus.Labels{"backend": backend}
	m := &Metrics{
		hits:   prometheus.NewCounter(prometheus.CounterOpts{Name: "tungsten_cache_hits_total", Help: "Cache lookups that found a value.", ConstLabels: l}),
		misses: prometheus.NewCounter(prometheus.CounterOpts{Name: "tungsten_cache_misses_total", Help: "Cache lookups that found nothing (or failed).", ConstLabels: l}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tungsten_cache_errors_total", Help: "Cache operations that failed, by operation.", ConstLabels: l}, []string{"op"}),
	}
	if reg != nil {
		reg.MustRegister(m.hits, m.misses, m.errors)
	}
	return m
}

func (m *Metrics) hit() {
	if m != nil {
		m.hits.Inc()
	}
}

func (m *Metrics) miss() {
	if m != nil {
		m.misses.Inc()
	}
}

func (m *Metrics) error(op string) {
	if m != nil {
		m.errors.WithLabelValues(op).Inc()
	}
}

// FaultHook is a go-redis hook that fails the commands of the client it is
// added to while sw holds a "redis" dependency fault (ADR 0016), before they
// reach the server: the cache and the shared rate limiter, which use the
// same client, then take the paths of an unreachable Redis (breaker, local
// limits, error metrics and logs). Add it after the tracing hook, so spans
// record the failures.
type FaultHook struct{ sw *faults.Switch }

// NewFaultHook returns the hook for sw.
func NewFaultHook(sw *faults.Switch) FaultHook { return FaultHook{sw: sw} }

// DialHook leaves dialing alone.
func (h FaultHook) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook fails one command.
func (h FaultHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if err := h.sw.Fail(faults.Redis); err != nil {
			cmd.SetErr(err)
			return err
		}
		return next(ctx, cmd)
	}
}

// ProcessPipelineHook fails a whole pipeline (one round trip).
func (h FaultHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if err := h.sw.Fail(faults.Redis); err != nil {
			for _, c := range cmds {
				c.SetErr(err)
			}
			return err
		}
		return next(ctx, cmds)
	}
}
