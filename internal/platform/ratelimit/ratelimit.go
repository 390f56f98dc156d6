// Package ratelimit counts requests per key in fixed windows: in Redis when
// configured, so every replica shares one budget (the reference platform kept
// limits in each pod's memory, so replicas multiplied them), in process
// otherwise. When Redis fails the limiter falls back to the local counter
// rather than failing requests or letting everything through.
package ratelimit

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/tungsten-blog/tungsten/internal/platform/breaker"
)

// Rule is a budget: Limit requests per Window.
type Rule struct {
	Name   string // for metrics, e.g. "gateway-ip", "login-account"
	Limit  int
	Window time.Duration
}

// Decision is the outcome of one Allow.
type Decision struct {
	Allowed    bool
	Remaining  int
	RetryAfter time.Duration // until the window resets, when not allowed
}

// Limiter decides whether a request under key may proceed.
type Limiter interface {
	Allow(ctx context.Context, rule Rule, key string) Decision
}

// Metrics counts decisions.
type Metrics struct{ rejected, fallbacks *prometheus.CounterVec }

// NewMetrics registers limiter metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tungsten_ratelimit_rejections_total", Help: "Requests rejected by a rate limit, by rule.",
		}, []string{"rule"}),
		fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tungsten_ratelimit_fallbacks_total", Help: "Decisions made locally because the shared store failed, by rule.",
		}, []string{"rule"}),
	}
	reg.MustRegister(m.rejected, m.fallbacks)
	return m
}

// Memory is an in-process fixed-window limiter.
type Memory struct {
	mu      sync.Mutex
	windows map[string]*window
	now     func() time.Time
	metrics *Metrics
	sweep   time.Time
}

type window struct {
	start time.Time
	count int
}

// NewMemory returns an in-process limiter.
func NewMemory(m *Metrics) *Memory {
	return &Memory{windows: map[string]*window{}, now: time.Now, metrics: m}
}

// Allow implements Limiter.
func (l *Memory) Allow(_ context.Context, rule Rule, key string) Decision {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if now.Sub(l.sweep) > time.Minute {
		for k, w := range l.windows {
			if now.Sub(w.start) > 10*time.Minute {
				delete(l.windows, k)
			}
		}
		l.sweep = now
	}
	start := now.Truncate(rule.Window)
	k := rule.Name + "\x00" + key
	w, ok := l.windows[k]
	if !ok || !w.start.Equal(start) {
		w = &window{start: start}
		l.windows[k] = w
	}
	w.count++
	return l.metrics.decide(rule, w.count, start.Add(rule.Window).Sub(now))
}

func (m *Metrics) fallback(rule Rule) {
	if m != nil {
		m.fallbacks.WithLabelValues(rule.Name).Inc()
	}
}

func (m *Metrics) decide(rule Rule, count int, reset time.Duration) Decision {
	if count > rule.Limit {
		if m != nil {
			m.rejected.WithLabelValues(rule.Name).Inc()
		}
		return Decision{RetryAfter: reset}
	}
	return Decision{Allowed: true, Remaining: rule.Limit - count}
}

// Redis is a fixed-window limiter shared by all replicas through Redis.
type Redis struct {
	client   redis.UniversalClient
	breaker  *breaker.Breaker
	prefix   string
	fallback *Memory
	log      *slog.Logger
	metrics  *Metrics
	now      func() time.Time
}

// NewRedis returns a shared limiter; keys are prefixed with prefix.
func NewRedis(client redis.UniversalClient, prefix string, log *slog.Logger, m *Metrics) *Redis {
	return &Redis{client: client, breaker: breaker.New(time.Second), prefix: prefix, fallback: NewMemory(m), log: log, metrics: m, now: time.Now}
}

// incrScript increments the window's counter and sets its expiry on first
// use, atomically.
var incrScript = redis.NewScript(`
local n = redis.call("INCR", KEYS[1])
if n == 1 then redis.call("PEXPIRE", KEYS[1], ARGV[1]) end
return n`)

// Allow implements Limiter.
func (l *Redis) Allow(ctx context.Context, rule Rule, key string) Decision {
	if !l.breaker.Allow() {
		l.metrics.fallback(rule)
		return l.fallback.Allow(ctx, rule, key)
	}
	now := l.now()
	start := now.Truncate(rule.Window)
	k := l.prefix + "rl:" + rule.Name + ":" + key + ":" + strconv.FormatInt(start.UnixMilli(), 10)
	ctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	n, err := incrScript.Run(ctx, l.client, []string{k}, rule.Window.Milliseconds()+1000).Int()
	if err != nil {
		l.breaker.Fail()
		l.metrics.fallback(rule)
		l.log.WarnContext(ctx, "rate limiter store unavailable, limiting locally", "rule", rule.Name, "error", err)
		return l.fallback.Allow(ctx, rule, key)
	}
	return l.metrics.decide(rule, n, start.Add(rule.Window).Sub(now))
}
