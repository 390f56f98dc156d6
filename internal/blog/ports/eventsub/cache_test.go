package eventsub_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tungsten-blog/tungsten/internal/blog/ports/eventsub"
	"github.com/tungsten-blog/tungsten/internal/platform/events"
)

// countingInvalidator records invalidations; err makes each one fail, like
// Redis during a blip.
type countingInvalidator struct {
	calls []int64
	err   error
}

func (c *countingInvalidator) Invalidate(_ context.Context, userID int64) error {
	c.calls = append(c.calls, userID)
	return c.err
}

func TestCacheHandlerInvalidatesListsAndRetriesFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ev := events.Event{ID: "e1", Type: "blog.article.published", OccurredAt: time.Now()}

	inv := &countingInvalidator{}
	require.NoError(t, eventsub.CacheHandler(inv)(ctx, nil, ev))
	require.Equal(t, []int64{0}, inv.calls, "the event invalidates the lists, for no one user in particular")

	for _, typ := range []string{"blog.comment.added", "blog.comment.deleted"} {
		require.NoError(t, eventsub.CacheHandler(inv)(ctx, nil, events.Event{ID: "c", Type: typ}))
		require.Len(t, inv.calls, 1, "%s invalidates nothing: no cached rendering shows comments", typ)
	}

	err := eventsub.CacheHandler(&countingInvalidator{err: errors.New("redis down")})(ctx, nil, ev)
	require.ErrorContains(t, err, "redis down", "a failed invalidation is an error, so the event is redelivered")

	require.NoError(t, eventsub.CacheHandler(nil)(ctx, nil, ev), "no cache, nothing to invalidate")
}
