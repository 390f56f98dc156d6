package blog_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tungsten-blog/tungsten/internal/blog/app"
	"github.com/tungsten-blog/tungsten/internal/platform/cache"
)

// benchListAfterWrite times an anonymous GET /api/articles (20 articles,
// SQLite, in-process cache) right after another user's write moved the
// generation, as under the load tests' mix: with staleness 0 every such read
// misses; within the bound it is served from the cache.
func benchListAfterWrite(b *testing.B, staleness time.Duration) {
	c := cache.NewMemory(1000, nil)
	clock := newFakeClock() // stands still: the entry never ages past the bound
	ts := newTestService(b, withCache(c), withStaleness(staleness), withClock(clock))
	for i := range 5 {
		ts.users.add(int64(i+1), "author"+strconv.Itoa(i), "", 1)
	}
	for i := range 20 {
		ts.create(ts.tokens.user(b, int64(i%5+1), "author"+strconv.Itoa(i%5)), "Article "+strconv.Itoa(i), "go", "bench")
	}
	get := func() {
		rec := httptest.NewRecorder()
		ts.h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/articles", nil))
		require.Equal(b, http.StatusOK, rec.Code)
		require.GreaterOrEqual(b, rec.Body.Len(), 1000, "a page of articles")
	}
	get() // cached
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		_, err := c.Incr(ctx, app.GenKey) // someone else's write
		require.NoError(b, err)
		get()
	}
}

func BenchmarkListMissAfterWrite(b *testing.B) { benchListAfterWrite(b, 0) }

func BenchmarkListHitStale(b *testing.B) { benchListAfterWrite(b, 10*time.Second) }
