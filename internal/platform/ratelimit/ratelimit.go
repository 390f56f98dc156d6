// Package ratelimit counts requests per key in fixed windows: in Redis when
// configured, so every replica shares one budget (the reference platform kept
// limits in each pod's memory, so replicas multiplied them), in process
// otherwise. When Redis fails the limiter falls back to the local counter
// rather than failing requests or letting everything through.
//
// A rule with a Batch (the gateway's per-IP limit) is counted locally and
// reconciled with Redis every Batch requests or every SyncInterval, whichever
// comes first, so most requests cost no round trip; the budget stays shared,
// with a bounded overshoot (see Rule.Batch and ADR 0008).
package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
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
	// Batch, when positive, lets a replica admit up to Batch requests of a
	// key before it adds them to the shared count (and at least every
	// SyncInterval). Once the shared count is within Batch of the limit every
	// request is counted in Redis again, so N replicas together admit at most
	// about Limit + 2×N×Batch per window (each replica's admissions the
	// others cannot see yet stay under 2×Batch). Zero counts every request in
	// Redis (exact; for small budgets such as logins).
	Batch int
}

// SyncInterval is the longest a batched rule's local count goes without
// being added to the shared one while requests arrive.
const SyncInterval = 100 * time.Millisecond

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
	end   time.Time // start + the rule's window: forgotten only after it
	count int
}

// sweepEvery is how often a limiter drops the windows that have ended, so
// that memory holds only keys seen within their rule's window (plus up to
// sweepEvery). A window is never dropped before it ends: that would reset
// the budget of every rule longer than the sweep's horizon.
const sweepEvery = time.Minute

// NewMemory returns an in-process limiter.
func NewMemory(m *Metrics) *Memory {
	return &Memory{windows: map[string]*window{}, now: time.Now, metrics: m}
}

// MaxKeyLen is the longest key kept as it is; longer keys (built from
// client input, such as an email) are replaced by their SHA-256, so a
// client cannot make the limiter hold megabytes per key.
const MaxKeyLen = 64

// boundKey returns key, or its hash when it is longer than MaxKeyLen.
func boundKey(key string) string {
	if len(key) <= MaxKeyLen {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Allow implements Limiter.
func (l *Memory) Allow(_ context.Context, rule Rule, key string) Decision {
	key = boundKey(key)
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if now.Sub(l.sweep) > sweepEvery {
		for k, w := range l.windows {
			if !now.Before(w.end) {
				delete(l.windows, k)
			}
		}
		l.sweep = now
	}
	start := now.Truncate(rule.Window)
	k := rule.Name + "\x00" + key
	w, ok := l.windows[k]
	if !ok || !w.start.Equal(start) {
		w = &window{start: start, end: start.Add(rule.Window)}
		l.windows[k] = w
	}
	w.count++
	return l.metrics.decide(rule, w.count, start.Add(rule.Window).Sub(now))
}

// KeyBytes is the size of the keys the limiter holds (for tests and
// capacity checks).
func (l *Memory) KeyBytes() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for k := range l.windows {
		n += len(k)
	}
	return n
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

	mu      sync.Mutex
	batches map[string]*batch // by rule name and key, for rules with a Batch
	sweep   time.Time
}

// batch is a replica's view of one key's window under a batched rule.
type batch struct {
	start    time.Time // window start
	end      time.Time // window end: the batch is dropped only after it
	known    int       // the shared count as of the last reconciliation
	inflight int       // requests being added to the shared count now
	pending  int       // requests admitted here, not yet sent
	synced   time.Time // last reconciliation started
}

// count is this replica's estimate of the shared count: never lower than
// the requests it knows of (in-flight ones may briefly count twice).
func (b *batch) count() int { return b.known + b.inflight + b.pending }

// NewRedis returns a shared limiter; keys are prefixed with prefix.
func NewRedis(client redis.UniversalClient, prefix string, log *slog.Logger, m *Metrics) *Redis {
	return &Redis{
		client: client, breaker: breaker.New(time.Second), prefix: prefix, fallback: NewMemory(m), log: log, metrics: m, now: time.Now,
		batches: map[string]*batch{},
	}
}

// incrScript adds ARGV[2] to the window's counter and sets its expiry on
// first use, atomically.
var incrScript = redis.NewScript(`
local n = redis.call("INCRBY", KEYS[1], ARGV[2])
if n == tonumber(ARGV[2]) then redis.call("PEXPIRE", KEYS[1], ARGV[1]) end
return n`)

// Allow implements Limiter.
func (l *Redis) Allow(ctx context.Context, rule Rule, key string) Decision {
	key = boundKey(key)
	if !l.breaker.Allow() {
		l.metrics.fallback(rule)
		return l.fallback.Allow(ctx, rule, key)
	}
	if rule.Batch > 0 {
		return l.allowBatched(ctx, rule, key)
	}
	now := l.now()
	start := now.Truncate(rule.Window)
	n, err := l.add(ctx, rule, key, start, 1)
	if err != nil {
		return l.failed(ctx, rule, key, err)
	}
	return l.metrics.decide(rule, n, start.Add(rule.Window).Sub(now))
}

// add adds delta to the shared count of key's window and returns the sum.
func (l *Redis) add(ctx context.Context, rule Rule, key string, start time.Time, delta int) (int, error) {
	k := l.prefix + "rl:" + rule.Name + ":" + key + ":" + strconv.FormatInt(start.UnixMilli(), 10)
	ctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	return incrScript.Run(ctx, l.client, []string{k}, rule.Window.Milliseconds()+1000, delta).Int()
}

func (l *Redis) failed(ctx context.Context, rule Rule, key string, err error) Decision {
	if errors.Is(ctx.Err(), context.Canceled) {
		// The client hung up: Redis is not to blame, and nobody waits for
		// the answer.
		return l.fallback.Allow(ctx, rule, key)
	}
	l.breaker.Fail()
	l.metrics.fallback(rule)
	l.log.WarnContext(ctx, "rate limiter store unavailable, limiting locally", "rule", rule.Name, "error", err)
	return l.fallback.Allow(ctx, rule, key)
}

// allowBatched admits a request locally while the shared count is far from
// the limit and this replica has fewer than rule.Batch requests unsent and
// at most one reconciliation in flight: so a replica's admissions that the
// others cannot see yet stay under 2×Batch. Every other request is counted
// in Redis with the unsent ones, and decided on the shared count.
func (l *Redis) allowBatched(ctx context.Context, rule Rule, key string) Decision {
	now := l.now()
	start := now.Truncate(rule.Window)
	reset := start.Add(rule.Window).Sub(now)
	l.mu.Lock()
	b := l.batchOf(rule, key, start, now)
	if b.count()+rule.Batch < rule.Limit && b.pending+1 < rule.Batch && b.inflight <= rule.Batch &&
		now.Sub(b.synced) < SyncInterval {
		b.pending++
		d := l.metrics.decide(rule, b.count(), reset)
		l.mu.Unlock()
		return d
	}
	delta := b.pending + 1
	b.pending, b.inflight, b.synced = 0, b.inflight+delta, now
	l.mu.Unlock()
	n, err := l.add(ctx, rule, key, start, delta)
	l.mu.Lock()
	b.inflight -= delta
	if err != nil {
		b.pending += delta - 1 // sent with the next reconciliation
		l.mu.Unlock()
		return l.failed(ctx, rule, key, err)
	}
	b.known = max(b.known, n)
	l.mu.Unlock()
	return l.metrics.decide(rule, n, reset)
}

// batchOf returns key's batch for the window starting at start, dropping
// batches of windows that ended (their unsent counts no longer matter).
// The caller holds l.mu.
func (l *Redis) batchOf(rule Rule, key string, start, now time.Time) *batch {
	if now.Sub(l.sweep) > sweepEvery {
		for k, b := range l.batches {
			if !now.Before(b.end) {
				delete(l.batches, k)
			}
		}
		l.sweep = now
	}
	k := rule.Name + "\x00" + key
	b, ok := l.batches[k]
	if !ok || !b.start.Equal(start) {
		b = &batch{start: start, end: start.Add(rule.Window), synced: now}
		l.batches[k] = b
	}
	return b
}
