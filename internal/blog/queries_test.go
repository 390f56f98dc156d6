package blog_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/tungsten-blog/tungsten/internal/blog"
	"github.com/tungsten-blog/tungsten/internal/blog/domain"
	"github.com/tungsten-blog/tungsten/internal/platform/cache"
	"github.com/tungsten-blog/tungsten/internal/platform/database"
)

// TestListQueryCount checks that a list costs a fixed number of queries,
// whatever its size: no query per article, author or tag. The database's
// own spans count the statements.
func TestListQueryCount(t *testing.T) {
	t.Parallel()
	ts, rec := newCountingService(t)
	viewer := ts.tokens.user(t, 1000, "viewer")
	for i := range 30 {
		id := int64(i + 1)
		ts.users.add(id, fmt.Sprint("author", id), "bio", 1)
		tok := ts.tokens.user(t, id, fmt.Sprint("author", id))
		slug := ts.create(tok, fmt.Sprint("Article ", i), "t1", fmt.Sprint("t", i))
		if i%2 == 0 {
			ts.do("POST", "/api/articles/"+slug+"/favorite", viewer, nil).want(t, http.StatusOK)
		}
		_, err := ts.svc.Store().ApplyFollowTx(t.Context(), ts.db, domain.Follow{FollowerID: 1000, FolloweeID: id, Following: i%3 == 0, At: 1})
		require.NoError(t, err)
	}
	queries := func(path, token string) int {
		t.Helper()
		before := len(rec.Ended())
		r := ts.do("GET", path, token, nil).want(t, http.StatusOK)
		require.NotEmpty(t, r.articles(), "%s: empty", path)
		n := 0
		for _, s := range rec.Ended()[before:] {
			if strings.HasPrefix(s.Name(), "SELECT") {
				n++
			}
		}
		return n
	}
	// count, page, tags, authors, favorited, following
	for _, path := range []string{"/api/articles?limit=30", "/api/articles?limit=5", "/api/articles?tag=t1&limit=30", "/api/articles/feed?limit=30"} {
		n := queries(path, viewer)
		assert.True(t, n >= 3 && n <= 6, "%s: %d queries, want 3 to 6", path, n)
	}
	assert.LessOrEqual(t, queries("/api/articles?limit=30", ""), 4, "anonymous list: queries")
}

// TestStaleHitQueries checks what a signed-in viewer's hit costs after
// someone else's write, within the staleness bound: nothing when their flags
// were cached with the entry; else, the first time, the two flag queries
// (favorites, follows), whose answer is cached with the stale entry's own
// stamp, and nothing the next time.
func TestStaleHitQueries(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	ts, rec := newCountingService(t, withCache(cache.NewMemory(1000, nil)), withStaleness(staleness), withClock(clock))
	ts.users.add(1, "jake", "", 1)
	ts.users.add(2, "bob", "", 1)
	ts.create(ts.tokens.user(t, 1, "jake"), "First")
	selects := func(viewer string) int {
		t.Helper()
		before := len(rec.Ended())
		r := ts.do("GET", "/api/articles", viewer, nil).want(t, http.StatusOK)
		require.NotZero(t, r.count(), "list %s", r.raw)
		n := 0
		for _, s := range rec.Ended()[before:] {
			if strings.HasPrefix(s.Name(), "SELECT") {
				n++
			}
		}
		return n
	}
	early, late := ts.tokens.user(t, 1000, "early"), ts.tokens.user(t, 1001, "late")
	selects(early) // the page is cached, and early's flags
	require.Zero(t, selects(early), "a fresh hit ran queries")
	ts.create(ts.tokens.user(t, 2, "bob"), "Second") // someone else's write
	require.Zero(t, selects(early), "a stale hit with flags cached for its entry ran queries")
	require.Equal(t, 2, selects(late), "the first stale hit without cached flags runs the 2 flag queries")
	require.Zero(t, selects(late), "the next stale hit ran queries: flags are not cached with the entry's stamp")
	clock.Advance(staleness)
	require.GreaterOrEqual(t, selects(late), 3, "past the bound the list was not loaded again")
}

// TestWriteQueryCount pins the statements each hot write runs, as the
// database's spans count them: the transaction (outbox row included) and the
// author lookup of the response, nothing per tag and no question the write
// already answered (whether the viewer favorites the article, or follows
// themselves).
func TestWriteQueryCount(t *testing.T) {
	t.Parallel()
	ts, rec := newCountingService(t)
	ts.users.add(1, "author", "bio", 1)
	ts.users.add(2, "reader", "bio", 1)
	author := ts.tokens.user(t, 1, "author")
	reader := ts.tokens.user(t, 2, "reader")
	slug := ts.create(author, "Warm up", "a") // fills the read model of authors
	ts.do("POST", "/api/articles/"+slug+"/favorite", reader, nil).want(t, http.StatusOK)

	statements := func(method, path, token string, body any, status int) []string {
		t.Helper()
		before := len(rec.Ended())
		ts.do(method, path, token, body).want(t, status)
		var names []string
		for _, s := range rec.Ended()[before:] {
			if op, _, _ := strings.Cut(s.Name(), " "); op == "SELECT" || op == "INSERT" || op == "UPDATE" || op == "DELETE" {
				names = append(names, op)
			}
		}
		return names
	}
	article := map[string]any{"article": map[string]any{"title": "Counted", "description": "d", "body": "b",
		"tagList": []string{"x", "y", "z"}}}
	for _, tc := range []struct {
		name, method, path, token string
		body                      any
		status                    int
		want                      []string
	}{
		// author (current name, and the account exists), free slug?, article, its search index entry,
		// tags (one statement), outbox
		{"create", "POST", "/api/articles", author, article, http.StatusCreated,
			[]string{"SELECT", "SELECT", "INSERT", "INSERT", "INSERT", "INSERT"}},
		// author, article id, comment, outbox
		{"comment", "POST", "/api/articles/" + slug + "/comments", author, map[string]any{"comment": map[string]any{"body": "hi"}},
			http.StatusOK, []string{"SELECT", "SELECT", "INSERT", "INSERT"}},
		// article, its tags, favorite, count, outbox; author, following
		{"favorite", "POST", "/api/articles/" + slug + "/favorite", author, nil, http.StatusOK,
			[]string{"SELECT", "SELECT", "INSERT", "UPDATE", "INSERT", "SELECT"}},
		{"favorite by another", "POST", "/api/articles/" + slug + "/favorite", ts.tokens.user(t, 3, "third"), nil, http.StatusOK,
			[]string{"SELECT", "SELECT", "INSERT", "UPDATE", "INSERT", "SELECT", "SELECT"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, statements(tc.method, tc.path, tc.token, tc.body, tc.status))
		})
	}
}

// newCountingService is a blog on a SQLite database whose spans rec records:
// one span per SQL statement.
func newCountingService(t *testing.T, opts ...option) (*testService, *tracetest.SpanRecorder) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	db, err := database.Open(t.Context(), database.Config{Service: "blog", DataDir: t.TempDir()}, tp, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	_, err = db.Migrate(t.Context(), blog.Migrations...)
	require.NoError(t, err)
	ts := newTestService(t, append([]option{func(_ *blog.Config, d *blog.Deps) { d.DB = db }}, opts...)...)
	ts.db = db
	return ts, rec
}
