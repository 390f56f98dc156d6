package eventsub

import (
	"context"
	"fmt"

	"github.com/tungsten-blog/tungsten/internal/blog/app"
	"github.com/tungsten-blog/tungsten/internal/platform/cache"
	"github.com/tungsten-blog/tungsten/internal/platform/database"
	"github.com/tungsten-blog/tungsten/internal/platform/events"
)

// CacheConsumerName is the durable consumer of the blog's own events.
const CacheConsumerName = "blog-cache"

// CacheHandler invalidates the cached article lists, tags and categories
// after every blog event. The write path already does this right after its
// commit, but only best effort: when that cache call fails (a Redis blip) the
// stale pages would live until their TTL. Driven by the outbox, this handler
// is at least once: a failed invalidation is retried until it lands. It is
// also what ties an article's trace to its consumer (publish → process).
func CacheHandler(c cache.Cache) events.HandlerFunc {
	return func(ctx context.Context, _ *database.Tx, ev events.Event) error {
		if c == nil {
			return nil
		}
		if _, err := c.Incr(ctx, app.GenKey); err != nil {
			return fmt.Errorf("invalidating cached lists after %s %s: %w", ev.Type, ev.ID, err)
		}
		return nil
	}
}
