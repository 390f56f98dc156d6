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
	// GetMany returns the values of keys in one round trip, nil for each
	// miss. Failures count as misses.
	GetMany(ctx context.Context, keys ...string) [][]byte
	// Set stores a value for ttl. Failures are logged and ignored.
	Set(ctx context.Context, key string, val []byte, ttl time.Duration)
	// Delete removes keys. Failures are logged and ignored.
	Delete(ctx context.Context, keys ...string)
	// Incr atomically increments a counter and returns its new value; it is
	// used for generation numbers that invalidate families of keys. A
	// missing counter starts from the current time in microseconds, not
	// from zero: a counter lost to eviction then never takes a value it had
	// before, so values stamped with an old generation cannot come back.
	Incr(ctx context.Context, key string) (int64, error)
}
