package blog_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/tungsten-blog/tungsten/internal/blog"
	"github.com/tungsten-blog/tungsten/internal/blog/domain"
	"github.com/tungsten-blog/tungsten/internal/platform/database"
)

// TestListQueryCount checks that a list costs a fixed number of queries,
// whatever its size: no query per article, author or tag. The database's
// own spans count the statements.
func TestListQueryCount(t *testing.T) {
	t.Parallel()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	db, err := database.Open(t.Context(), database.Config{Service: "blog", DataDir: t.TempDir()}, tp, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if _, err := db.Migrate(t.Context(), blog.Migrations); err != nil {
		t.Fatal(err)
	}
	ts := newTestService(t, func(_ *blog.Config, d *blog.Deps) { d.DB = db })
	ts.db = db
	viewer := ts.tokens.user(t, 1000, "viewer")
	for i := range 30 {
		id := int64(i + 1)
		ts.users.add(id, fmt.Sprint("author", id), "bio", 1)
		tok := ts.tokens.user(t, id, fmt.Sprint("author", id))
		slug := ts.create(tok, fmt.Sprint("Article ", i), "t1", fmt.Sprint("t", i))
		if i%2 == 0 {
			ts.do("POST", "/api/articles/"+slug+"/favorite", viewer, nil).want(t, http.StatusOK)
		}
		if _, err := ts.svc.Store().ApplyFollowTx(t.Context(), db, domain.Follow{FollowerID: 1000, FolloweeID: id, Following: i%3 == 0, At: 1}); err != nil {
			t.Fatal(err)
		}
	}
	queries := func(path, token string) int {
		t.Helper()
		before := len(rec.Ended())
		r := ts.do("GET", path, token, nil).want(t, http.StatusOK)
		if n := len(r.articles()); n == 0 {
			t.Fatalf("%s: empty", path)
		}
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
		if n := queries(path, viewer); n > 6 || n < 3 {
			t.Errorf("%s: %d queries, want 3 to 6", path, n)
		}
	}
	if n := queries("/api/articles?limit=30", ""); n > 4 {
		t.Errorf("anonymous list: %d queries, want at most 4", n)
	}
}
