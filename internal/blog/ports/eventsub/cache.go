package eventsub

import (
	"context"
	"fmt"

	"github.com/tungsten-blog/tungsten/internal/blog/blogevents"
	"github.com/tungsten-blog/tungsten/internal/platform/database"
	"github.com/tungsten-blog/tungsten/internal/platform/events"
)

// CacheConsumerName is the durable consumer of the blog's own events.
const CacheConsumerName = "blog-cache"

// CacheHandler invalidates the cached article lists, tags and categories
// (inv.Invalidate with no user: app.Service moves the cache generation)
// after every blog event that changes what they show (comment events do
// not: no cached rendering carries comments). The write path already does this right after its
// commit, but only best effort: when that cache call fails (a Redis blip) the
// stale pages would live until their TTL. Driven by the outbox, this handler
// is at least once: a failed invalidation is retried until it lands. It is
// also what ties an article's trace to its consumer (publish → process).
// It reads the event's type only, never its payload, so no payload version
// concerns it.
func CacheHandler(inv Invalidator) events.HandlerFunc {
	return func(ctx context.Context, _ *database.Tx, ev events.Event) error {
		if inv == nil || ev.Type == blogevents.CommentAdded || ev.Type == blogevents.CommentDeleted {
			return nil
		}
		if err := inv.Invalidate(ctx, 0); err != nil {
			return fmt.Errorf("invalidating cached lists after %s %s: %w", ev.Type, ev.ID, err)
		}
		return nil
	}
}
