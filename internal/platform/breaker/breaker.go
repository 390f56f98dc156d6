// Package breaker is a minimal circuit breaker for optional dependencies
// (Redis): after a failure, callers skip the dependency for a cool-down
// instead of paying its timeout on every request.
package breaker

import (
	"sync/atomic"
	"time"
)

// Breaker opens for Cooldown after a failure.
type Breaker struct {
	Cooldown  time.Duration
	openUntil atomic.Int64 // unix nanoseconds
	now       func() time.Time
}

// New returns a closed breaker.
func New(cooldown time.Duration) *Breaker {
	return &Breaker{Cooldown: cooldown, now: time.Now}
}

// Allow reports whether the dependency may be called now.
func (b *Breaker) Allow() bool { return b.now().UnixNano() >= b.openUntil.Load() }

// Fail opens the breaker for the cool-down.
func (b *Breaker) Fail() { b.openUntil.Store(b.now().Add(b.Cooldown).UnixNano()) }
