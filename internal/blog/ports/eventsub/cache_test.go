package eventsub_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tungsten-blog/tungsten/internal/blog/app"
	"github.com/tungsten-blog/tungsten/internal/blog/ports/eventsub"
	"github.com/tungsten-blog/tungsten/internal/platform/cache"
	"github.com/tungsten-blog/tungsten/internal/platform/events"
)

// failingCache fails every increment, like Redis during a blip.
type failingCache struct{ cache.Cache }

func (failingCache) Incr(context.Context, string) (int64, error) { return 0, errors.New("redis down") }

func TestCacheHandlerInvalidatesListsAndRetriesFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ev := events.Event{ID: "e1", Type: "blog.article.published", OccurredAt: time.Now()}

	mem := cache.NewMemory(10, nil)
	before, err := mem.Incr(ctx, app.GenKey)
	require.NoError(t, err)
	require.NoError(t, eventsub.CacheHandler(mem)(ctx, nil, ev))
	gen, ok := mem.Get(ctx, app.GenKey)
	require.True(t, ok)
	require.Equal(t, strconv.FormatInt(before+1, 10), string(gen), "the event bumps the list cache generation")

	err = eventsub.CacheHandler(failingCache{mem})(ctx, nil, ev)
	require.ErrorContains(t, err, "redis down", "a failed invalidation is an error, so the event is redelivered")

	require.NoError(t, eventsub.CacheHandler(nil)(ctx, nil, ev), "no cache, nothing to invalidate")
}
