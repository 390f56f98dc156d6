// Package cache is the hot-read cache: Redis when configured (shared by all
// replicas), an in-process LRU otherwise. A cache failure is a miss, never an
// error the user sees: callers always have the database to fall back to.
package cache

import (
	"context"
	"time"
)

// Cache stores opaque values under string keys.
type Cache interface {
	// Get returns the value and true on a hit. Failures count as misses.
	Get(ctx context.Context, key string) ([]byte, bool)
	// Set stores a value for ttl. Failures are logged and ignored.
	Set(ctx context.Context, key string, val []byte, ttl time.Duration)
	// Delete removes keys. Failures are logged and ignored.
	Delete(ctx context.Context, keys ...string)
	// Incr atomically increments a counter and returns its new value; it is
	// used for generation numbers that invalidate families of keys.
	Incr(ctx context.Context, key string) (int64, error)
	// Ping checks the backing store (readiness reporting only).
	Ping(ctx context.Context) error
}
