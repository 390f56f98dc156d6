package sqlstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tungsten-blog/tungsten/internal/blog"
	"github.com/tungsten-blog/tungsten/internal/blog/adapters/sqlstore"
	"github.com/tungsten-blog/tungsten/internal/blog/blogevents"
	"github.com/tungsten-blog/tungsten/internal/blog/domain"
	"github.com/tungsten-blog/tungsten/internal/platform/database"
	"github.com/tungsten-blog/tungsten/internal/platform/errs"
	"github.com/tungsten-blog/tungsten/internal/platform/testenv"
)

// clock advances one second per reading, so every write has its own time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

type fixture struct {
	t     testing.TB
	ctx   context.Context
	db    *database.DB
	store *sqlstore.Store
}

func newFixture(t testing.TB, d database.Dialect) *fixture {
	t.Helper()
	db := testenv.OpenDB(t, d, "blog", blog.Migrations)
	c := &clock{t: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}
	return &fixture{t: t, ctx: t.Context(), db: db, store: sqlstore.New(db, nil, c.now)}
}

func (f *fixture) create(title string, author int64, tags []string, category string) domain.Article {
	f.t.Helper()
	in := domain.ArticleInput{Title: title, Description: "about " + title, Body: "body of " + title, Tags: tags, Category: category}.Normalize()
	require.NoError(f.t, in.Validate())
	a, err := f.store.CreateArticle(f.ctx, in, author, "user"+string(rune('0'+author)))
	require.NoError(f.t, err, "CreateArticle(%q)", title)
	return a
}

func (f *fixture) list(q domain.ListQuery) domain.Page {
	f.t.Helper()
	if q.Limit == 0 {
		q.Limit = 20
	}
	p, err := f.store.ListArticles(f.ctx, q)
	require.NoError(f.t, err, "ListArticles(%+v)", q)
	return p
}

func slugs(p domain.Page) []string {
	out := make([]string, len(p.Articles))
	for i, a := range p.Articles {
		out[i] = a.Slug
	}
	return out
}

func (f *fixture) outboxTypes() []string {
	f.t.Helper()
	rows, err := f.db.QueryContext(f.ctx, `SELECT event_type FROM outbox ORDER BY seq`)
	require.NoError(f.t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		require.NoError(f.t, rows.Scan(&s))
		out = append(out, s)
	}
	return out
}

// requireContractPayloads checks that every payload in the outbox is its
// type's blogevents payload, written at the current version.
func (f *fixture) requireContractPayloads() {
	f.t.Helper()
	rows, err := f.db.QueryContext(f.ctx, `SELECT event_type, payload FROM outbox ORDER BY seq`)
	require.NoError(f.t, err)
	defer rows.Close()
	for rows.Next() {
		var typ string
		var data []byte
		require.NoError(f.t, rows.Scan(&typ, &data))
		require.Contains(f.t, blogevents.Types(), typ)
		var written struct{ Version *int }
		require.NoError(f.t, json.Unmarshal(data, &written), "%s %s", typ, data)
		require.NotNil(f.t, written.Version, "%s written without a version: %s", typ, data)
		require.Equal(f.t, blogevents.Version, *written.Version, "%s %s", typ, data)
		var p blogevents.Payload
		switch typ {
		case blogevents.CommentAdded, blogevents.CommentDeleted:
			p = &blogevents.Comment{}
		case blogevents.ArticleFavorited, blogevents.ArticleUnfavorited:
			p = &blogevents.Favorite{}
		default:
			p = &blogevents.Article{}
		}
		require.NoError(f.t, blogevents.Decode(data, p), "%s %s", typ, data)
	}
	require.NoError(f.t, rows.Err())
}

func wantKind(t testing.TB, err error, kind errs.Kind) {
	t.Helper()
	require.True(t, errs.Is(err, kind), "error = %v, want kind %v", err, kind)
}

// TestStoreContract runs the repository contract against every engine.
func TestStoreContract(t *testing.T) {
	t.Parallel()
	for _, d := range testenv.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			for _, tc := range contract {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.run(newFixture(t, d))
				})
			}
		})
	}
}

var contract = []struct {
	name string
	run  func(f *fixture)
}{
	{"CreateGetUpdateDelete", testCRUD},
	{"SlugUniqueness", testSlugs},
	{"Filters", testFilters},
	{"Search", testSearch},
	{"SearchRanking", testRanking},
	{"SearchReindex", testReindex},
	{"ReadingMinutes", testReadingMinutes},
	{"SearchBounds", testSearchBounds},
	{"OrderingCountsPagination", testPaging},
	{"Favorites", testFavorites},
	{"Comments", testComments},
	{"TagsAndCategories", testTagsCategories},
	{"AuthorsReadModel", testAuthors},
	{"FollowsLastWriteWins", testFollows},
	{"ProcessedEventsIdempotency", testProcessedEvents},
	{"Drafts", testDrafts},
}

func testCRUD(f *fixture) {
	t := f.t
	a := f.create("How to train your dragon", 1, []string{"training", "dragons"}, "science")
	require.Equal(t, "how-to-train-your-dragon", a.Slug, "created %+v", a)
	require.Equal(t, []string{"dragons", "training"}, a.Tags, "created %+v", a)
	require.Equal(t, "science", a.Category, "created %+v", a)
	got, err := f.store.Article(f.ctx, a.Slug)
	require.NoError(t, err)
	require.Equal(t, a.ID, got.ID, "loaded %+v, created %+v", got, a)
	require.Equal(t, "body of How to train your dragon", got.Body)
	require.Equal(t, a.Tags, got.Tags)
	require.Equal(t, int64(1), got.AuthorID)
	require.Equal(t, "user1", got.AuthorUsername)
	require.True(t, got.CreatedAt.Equal(a.CreatedAt), "loaded %v, created %v", got.CreatedAt, a.CreatedAt)
	require.Equal(t, "science", got.Category)

	upd, err := f.store.UpdateArticle(f.ctx, a.Slug, func(cur domain.Article) (domain.ArticleInput, error) {
		return domain.ArticleInput{Title: "Did you train your dragon?", Description: cur.Description, Body: "new body",
			Tags: []string{"dragons", "zoo"}}, nil
	})
	require.NoError(t, err)
	require.Equal(t, "did-you-train-your-dragon", upd.Slug, "updated %+v", upd)
	require.Equal(t, "new body", upd.Body)
	require.Empty(t, upd.Category)
	require.True(t, upd.UpdatedAt.After(upd.CreatedAt), "updated %+v", upd)
	require.Equal(t, []string{"dragons", "zoo"}, upd.Tags)
	_, err = f.store.Article(f.ctx, a.Slug)
	wantKind(t, err, errs.KindNotFound)
	got, err = f.store.Article(f.ctx, upd.Slug)
	require.NoError(t, err, "after update")
	require.Equal(t, "Did you train your dragon?", got.Title, "after update: %+v", got)
	require.Empty(t, got.Category, "after update")
	require.Equal(t, upd.Tags, got.Tags, "after update")

	// The update function's error aborts the update.
	_, err = f.store.UpdateArticle(f.ctx, upd.Slug, func(domain.Article) (domain.ArticleInput, error) {
		return domain.ArticleInput{}, errs.Forbidden("no")
	})
	wantKind(t, err, errs.KindForbidden)
	_, err = f.store.UpdateArticle(f.ctx, "missing", func(domain.Article) (domain.ArticleInput, error) {
		require.Fail(t, "update called for a missing article")
		return domain.ArticleInput{}, nil
	})
	wantKind(t, err, errs.KindNotFound)

	_, err = f.store.AddComment(f.ctx, upd.Slug, 2, "user2", "nice")
	require.NoError(t, err)
	_, err = f.store.Favorite(f.ctx, upd.Slug, 2)
	require.NoError(t, err)
	wantKind(t, f.store.DeleteArticle(f.ctx, upd.Slug, func(domain.Article) error { return errs.Forbidden("no") }), errs.KindForbidden)
	require.NoError(t, f.store.DeleteArticle(f.ctx, upd.Slug, func(domain.Article) error { return nil }))
	_, err = f.store.Article(f.ctx, upd.Slug)
	wantKind(t, err, errs.KindNotFound)
	wantKind(t, f.store.DeleteArticle(f.ctx, upd.Slug, func(domain.Article) error { return nil }), errs.KindNotFound)
	for _, table := range []string{"article_tags", "comments", "favorites", "articles"} {
		var n int
		err := f.db.QueryRowContext(f.ctx, `SELECT COUNT(*) FROM `+table).Scan(&n)
		assert.NoError(t, err, table)
		assert.Zero(t, n, "%s holds rows after delete", table)
	}
	want := []string{blogevents.ArticlePublished, blogevents.ArticleUpdated, blogevents.CommentAdded,
		blogevents.ArticleFavorited, blogevents.ArticleDeleted}
	require.Equal(t, want, f.outboxTypes(), "outbox")
	f.requireContractPayloads()
}

func testSlugs(f *fixture) {
	t := f.t
	a := f.create("Same title", 1, nil, "")
	b := f.create("Same title", 2, nil, "")
	require.Equal(t, "same-title", a.Slug)
	require.True(t, strings.HasPrefix(b.Slug, "same-title-") && len(b.Slug) == len("same-title-")+6, "second slug %q", b.Slug)
	feed := f.create("Feed", 1, nil, "")
	require.True(t, strings.HasPrefix(feed.Slug, "feed-"), "reserved slug used: %q", feed.Slug)
	require.Equal(t, "ünïcödé-тест-東京", f.create("Ünïcödé Тест 東京", 1, nil, "").Slug, "unicode slug")
	_, err := f.store.Article(f.ctx, "ünïcödé-тест-東京")
	require.NoError(t, err, "loading by unicode slug")
	// Same words, other case: the (suffixed) slug stays.
	b2, err := f.store.UpdateArticle(f.ctx, b.Slug, func(cur domain.Article) (domain.ArticleInput, error) {
		return domain.ArticleInput{Title: "SAME TITLE!", Description: cur.Description, Body: cur.Body}, nil
	})
	require.NoError(t, err)
	require.Equal(t, b.Slug, b2.Slug, "same-words update moved the slug")
	// Renaming to a taken slug gets a suffix.
	c := f.create("Other", 1, nil, "")
	c2, err := f.store.UpdateArticle(f.ctx, c.Slug, func(cur domain.Article) (domain.ArticleInput, error) {
		return domain.ArticleInput{Title: "Same Title", Description: cur.Description, Body: cur.Body}, nil
	})
	require.NoError(t, err)
	require.NotContains(t, []string{a.Slug, b.Slug}, c2.Slug, "rename to a taken slug")
	require.True(t, strings.HasPrefix(c2.Slug, "same-title-"), "rename to taken slug gave %q", c2.Slug)
	// Concurrent creations with one title all succeed with distinct slugs.
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[string]bool{}
	for range 8 {
		wg.Go(func() {
			in := domain.ArticleInput{Title: "Race", Description: "d", Body: "b"}
			a, err := f.store.CreateArticle(f.ctx, in, 1, "user1")
			if !assert.NoError(t, err, "concurrent create") {
				return
			}
			mu.Lock()
			seen[a.Slug] = true
			mu.Unlock()
		})
	}
	wg.Wait()
	require.Len(t, seen, 8, "concurrent creates gave distinct slugs")
}

func testFilters(f *fixture) {
	t := f.t
	a := f.create("Alpha", 1, []string{"go", "db"}, "technology")
	b := f.create("Beta", 2, []string{"go"}, "science")
	c := f.create("Gamma", 1, []string{"dragons"}, "")
	for _, tt := range []struct {
		name string
		q    domain.ListQuery
		want []string
	}{
		{"all", domain.ListQuery{}, []string{c.Slug, b.Slug, a.Slug}},
		{"tag", domain.ListQuery{Tag: "go"}, []string{b.Slug, a.Slug}},
		{"tag is exact", domain.ListQuery{Tag: "Go"}, []string{}},
		{"author", domain.ListQuery{AuthorID: 1}, []string{c.Slug, a.Slug}},
		{"category", domain.ListQuery{Category: "science"}, []string{b.Slug}},
		{"unknown category", domain.ListQuery{Category: "nope"}, []string{}},
		{"tag and author", domain.ListQuery{Tag: "go", AuthorID: 2}, []string{b.Slug}},
		{"unknown tag", domain.ListQuery{Tag: "nope"}, []string{}},
	} {
		p := f.list(tt.q)
		assert.Equal(t, tt.want, slugs(p), tt.name)
		assert.Equal(t, int64(len(tt.want)), p.Total, tt.name)
	}
	// Favorited by, and the feed (follows from the read model).
	for _, slug := range []string{a.Slug, b.Slug} {
		_, err := f.store.Favorite(f.ctx, slug, 3)
		require.NoError(t, err)
	}
	assert.Equal(t, []string{b.Slug, a.Slug}, slugs(f.list(domain.ListQuery{FavoritedBy: 3})), "favorited")
	assert.Equal(t, []string{a.Slug}, slugs(f.list(domain.ListQuery{FavoritedBy: 3, Category: "technology"})), "favorited+category")
	assert.Empty(t, slugs(f.list(domain.ListQuery{FollowedBy: 3})), "feed without follows")
	for _, fl := range []domain.Follow{
		{FollowerID: 3, FolloweeID: 2, Following: true, At: 10},
		{FollowerID: 3, FolloweeID: 1, Following: true, At: 10},
		{FollowerID: 3, FolloweeID: 1, Following: false, At: 11},
	} {
		_, err := f.store.ApplyFollowTx(f.ctx, f.db, fl)
		require.NoError(t, err)
	}
	p := f.list(domain.ListQuery{FollowedBy: 3})
	assert.Equal(t, []string{b.Slug}, slugs(p), "feed")
	assert.Equal(t, int64(1), p.Total, "feed total")
}

func testSearch(f *fixture) {
	t := f.t
	in := func(title, desc, body string) domain.Article {
		a, err := f.store.CreateArticle(f.ctx, domain.ArticleInput{Title: title, Description: desc, Body: body}, 1, "user1")
		require.NoError(t, err)
		return a
	}
	dragon := in("How to train your dragon", "Ever wonder how?", "Very carefully.")
	uber := in("Über Straße", "Grüße aus München", "Привет мир и 東京タワー")
	quote := in(`He said "OR" (twice)`, "stars * and NEAR", "AND NOT")
	ko := in("쿠버네티스 관측 가능성", "Prometheus와 Kubernetes",
		"프로메테우스와 그라파나로 모니터링을 구축했습니다. 분산 추적은 예거를 사용합니다.")
	search := func(q string) []string {
		terms := domain.SearchTerms(q)
		if len(terms) == 0 {
			return []string{}
		}
		return slugs(f.list(domain.ListQuery{Terms: terms}))
	}
	for _, tt := range []struct {
		q    string
		want []string
	}{
		{"dragon", []string{dragon.Slug}},
		{"DRAGON Train", []string{dragon.Slug}},
		{"carefully", []string{dragon.Slug}}, // body
		{"wonder", []string{dragon.Slug}},    // description
		{"dragon über", []string{}},          // every term must match
		{"über", []string{uber.Slug}},        // unicode, case-folded
		{"ÜBER", []string{uber.Slug}},
		{"привет", []string{uber.Slug}},
		{"東京タワー", []string{uber.Slug}},
		{"grüße", []string{uber.Slug}},
		{`"`, []string{}},
		{`*`, []string{}},
		{`OR`, []string{quote.Slug}}, // a word, not an operator
		{`(`, []string{}},
		{`"OR" (twice`, []string{quote.Slug}},
		{`NEAR(a b)`, []string{}},
		{`and not`, []string{quote.Slug}},
		{`dragon*`, []string{dragon.Slug}},
		{`-dragon`, []string{dragon.Slug}}, // no negation syntax
		{`title:dragon`, []string{}},       // no column filters
		{"nothing-here", []string{}},
		// Korean: particles, 2-character words, prefixes, mixed scripts.
		{"모니터링", []string{ko.Slug}},
		{"예거", []string{ko.Slug}},
		{"쿠버", []string{ko.Slug}},
		{"쿠", []string{ko.Slug}},
		{"그라파나 prom", []string{ko.Slug}},
		{"kubernetes 모니터링", []string{ko.Slug}},
		{"모니터링을 구축", []string{ko.Slug}},
		{"링모니", []string{}}, // bigrams must be in sequence
		{"예거 dragon", []string{}},
	} {
		assert.Equal(t, tt.want, search(tt.q), "search %q", tt.q)
	}
	// The index follows updates and deletes.
	_, err := f.store.UpdateArticle(f.ctx, dragon.Slug, func(cur domain.Article) (domain.ArticleInput, error) {
		return domain.ArticleInput{Title: "How to tame a wyvern", Description: cur.Description, Body: cur.Body}, nil
	})
	require.NoError(t, err)
	assert.Empty(t, search("dragon"), "old title still found")
	assert.Len(t, search("wyvern"), 1, "new title not found")
	_, err = f.store.Favorite(f.ctx, "how-to-tame-a-wyvern", 5)
	require.NoError(t, err)
	assert.Len(t, search("wyvern carefully"), 1, "after favorite")
	require.NoError(t, f.store.DeleteArticle(f.ctx, "how-to-tame-a-wyvern", func(domain.Article) error { return nil }))
	assert.Empty(t, search("wyvern"), "deleted article found")
	// Search combines with other filters and counts.
	p := f.list(domain.ListQuery{Terms: domain.SearchTerms("über"), AuthorID: 1})
	assert.Equal(t, int64(1), p.Total, "search+author total")
	// Results carry a snippet of where they matched, and no body.
	p = f.list(domain.ListQuery{Terms: domain.SearchTerms("모니터링")})
	require.Len(t, p.Articles, 1, "search 모니터링: %+v", p.Articles)
	require.Empty(t, p.Articles[0].Body, "search results carry no body")
	var marked []string
	for _, part := range p.Articles[0].Snippet {
		if part.Match {
			marked = append(marked, part.Text)
		}
	}
	assert.Equal(t, []string{"모니터링"}, marked, "snippet %+v", p.Articles[0].Snippet)
}

// testRanking: a match in the title ranks above one in the description,
// which ranks above one in the body, whatever their age.
func testRanking(f *fixture) {
	t := f.t
	in := func(title, desc, body string) string {
		a, err := f.store.CreateArticle(f.ctx, domain.ArticleInput{Title: title, Description: desc, Body: body}, 1, "user1")
		require.NoError(t, err)
		return a.Slug
	}
	title := in("그라파나 대시보드", "설명입니다", "본문입니다. 오늘은 날씨가 좋습니다.")
	desc := in("대시보드 이야기", "그라파나로 만든 화면", "본문입니다. 오늘은 날씨가 좋습니다.")
	body := in("화면 이야기", "설명입니다", "본문에서 그라파나를 잠깐 언급합니다.")
	_ = in("다른 이야기", "설명입니다", "관계없는 글입니다.")
	p := f.list(domain.ListQuery{Terms: domain.SearchTerms("그라파나")})
	assert.Equal(t, []string{title, desc, body}, slugs(p), "ranked")
	assert.Equal(t, int64(3), p.Total, "ranked total")
	// Paging through ranked results keeps the order.
	p1 := f.list(domain.ListQuery{Terms: domain.SearchTerms("그라파나"), Limit: 2})
	p2 := f.list(domain.ListQuery{Terms: domain.SearchTerms("그라파나"), Limit: 2, Offset: 2})
	assert.Equal(t, []string{title, desc, body}, append(slugs(p1), slugs(p2)...), "paged")
}

// testSearchBounds: a search ranks the newest maxMatches text matches only,
// and counts at most that many; PostgreSQL's first look among the newest
// articles (the window) finds the same ones as a search of the whole table.
func testSearchBounds(f *fixture) {
	t := f.t
	var all, rare []string
	for i := range 12 {
		title := fmt.Sprintf("흔한 글 %d", i)
		if i < 3 {
			title += " 드문"
		}
		a := f.create(title, 1, nil, "")
		all = append([]string{a.Slug}, all...)
		if i < 3 {
			rare = append([]string{a.Slug}, rare...)
		}
	}
	search := func(q string) domain.Page {
		return f.list(domain.ListQuery{Terms: domain.SearchTerms(q), Limit: 20})
	}
	full := search("흔한")
	// Every article matches 흔한: a window of the newest 4 cannot hold 5 matches, so the
	// whole table is searched; a window of 8 holds them.
	for _, window := range []int{4, 8} {
		f.store.SetSearchBounds(5, window)
		p := search("흔한")
		assert.Equal(t, int64(5), p.Total, "window %d", window)
		assert.Equal(t, slices.Sorted(slices.Values(all[:5])), slugsSorted(p), "window %d: want the newest 5", window)
		// A rare word's matches lie outside the window: still found.
		p = search("드문")
		assert.Equal(t, int64(3), p.Total, "window %d, rare", window)
		assert.Equal(t, slices.Sorted(slices.Values(rare)), slugsSorted(p), "window %d, rare", window)
	}
	assert.Equal(t, int64(12), full.Total, "unbounded total")
}

func slugsSorted(p domain.Page) []string { return slices.Sorted(slices.Values(slugs(p))) }

// testReindex: articles the index lacks (written before it existed) are
// found once Reindex ran, and only they are indexed.
func testReindex(f *fixture) {
	t := f.t
	a := f.create("예전 글", 1, nil, "")
	b := f.create("새 글", 1, nil, "")
	drop := `DELETE FROM articles_search WHERE rowid = $1`
	if f.db.Dialect == database.Postgres {
		drop = `UPDATE articles SET search = NULL WHERE id = $1`
	}
	_, err := f.db.ExecContext(f.ctx, drop, a.ID)
	require.NoError(t, err)
	p := f.list(domain.ListQuery{Terms: domain.SearchTerms("예전")})
	require.Zero(t, p.Total, "unindexed article found: %q", slugs(p))
	n, err := f.store.Reindex(f.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n, "Reindex")
	assert.Equal(t, []string{a.Slug}, slugs(f.list(domain.ListQuery{Terms: domain.SearchTerms("예전")})), "after reindex")
	p = f.list(domain.ListQuery{Terms: domain.SearchTerms("글")})
	assert.Equal(t, int64(2), p.Total, "글: %q, want %s and %s", slugs(p), a.Slug, b.Slug)
	n, err = f.store.Reindex(f.ctx)
	assert.NoError(t, err)
	assert.Zero(t, n, "second Reindex")
}

// testReadingMinutes: lists carry the reading time stored with the body,
// and Reindex measures the rows written before the column existed.
func testReadingMinutes(f *fixture) {
	t := f.t
	a := f.create("읽기 시간", 1, nil, "")
	require.Equal(t, 1, a.ReadingMinutes, "created")
	_, err := f.db.ExecContext(f.ctx, `UPDATE articles SET reading_minutes = NULL WHERE id = $1`, a.ID)
	require.NoError(t, err)
	require.Zero(t, f.list(domain.ListQuery{}).Articles[0].ReadingMinutes, "not measured yet")
	n, err := f.store.Reindex(f.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n, "Reindex")
	list := f.list(domain.ListQuery{})
	require.Equal(t, a.Slug, list.Articles[0].Slug)
	require.Equal(t, 1, list.Articles[0].ReadingMinutes, "measured by Reindex")
}

func testPaging(f *fixture) {
	t := f.t
	var all []string
	for i := range 25 {
		all = append([]string{f.create("Post "+string(rune('a'+i)), 1, nil, "").Slug}, all...)
	}
	p := f.list(domain.ListQuery{Limit: 10})
	require.Equal(t, int64(25), p.Total, "first page")
	require.Equal(t, all[:10], slugs(p), "first page")
	p = f.list(domain.ListQuery{Limit: 10, Offset: 20})
	require.Equal(t, int64(25), p.Total, "last page")
	require.Equal(t, all[20:], slugs(p), "last page")
	p = f.list(domain.ListQuery{Limit: 10, Offset: 25})
	require.Equal(t, int64(25), p.Total, "past the end")
	require.NotNil(t, p.Articles, "past the end")
	require.Empty(t, p.Articles, "past the end")
	p, err := f.store.ListArticles(f.ctx, domain.ListQuery{Limit: 0})
	require.NoError(t, err, "limit 0")
	require.Equal(t, int64(25), p.Total, "limit 0")
	require.Empty(t, p.Articles, "limit 0")
	p = f.list(domain.ListQuery{Limit: 100, Offset: 1 << 40})
	require.Equal(t, int64(25), p.Total, "huge offset")
	require.Empty(t, p.Articles, "huge offset")
	// Equal timestamps fall back to id order (newest id first).
	_, err = f.db.ExecContext(f.ctx, `UPDATE articles SET created_at = 1`)
	require.NoError(t, err)
	require.Equal(t, all[:3], slugs(f.list(domain.ListQuery{Limit: 3})), "tie order")
	// List rows carry no body but do carry tags.
	a := f.create("Tagged", 2, []string{"b", "a"}, "food")
	p = f.list(domain.ListQuery{AuthorID: 2})
	require.Len(t, p.Articles, 1, "rows %+v", p.Articles)
	row := p.Articles[0]
	require.Empty(t, row.Body, "row %+v", row)
	require.Equal(t, []string{"a", "b"}, row.Tags)
	require.Equal(t, "food", row.Category)
	require.Equal(t, a.Slug, row.Slug)
}

func testFavorites(f *fixture) {
	t := f.t
	a := f.create("Fav", 1, nil, "")
	step := func(on bool, user, want int64) {
		t.Helper()
		var got domain.Article
		var err error
		if on {
			got, err = f.store.Favorite(f.ctx, a.Slug, user)
		} else {
			got, err = f.store.Unfavorite(f.ctx, a.Slug, user)
		}
		require.NoError(t, err, "favorite(%v, %d)", on, user)
		require.Equal(t, want, got.FavoritesCount, "favorite(%v, %d): count", on, user)
		stored, _ := f.store.Article(f.ctx, a.Slug)
		require.Equal(t, want, stored.FavoritesCount, "stored count")
	}
	step(true, 2, 1)
	step(true, 2, 1) // idempotent
	step(true, 3, 2)
	step(false, 2, 1)
	step(false, 2, 1) // idempotent
	step(false, 9, 1)
	fav, err := f.store.FavoritedBy(f.ctx, 3, []int64{a.ID, a.ID + 100})
	require.NoError(t, err)
	require.True(t, fav[a.ID], "FavoritedBy = %v", fav)
	require.False(t, fav[a.ID+100], "FavoritedBy = %v", fav)
	fav, _ = f.store.FavoritedBy(f.ctx, 2, []int64{a.ID})
	require.False(t, fav[a.ID], "unfavorited article reported as favorited")
	_, err = f.store.Favorite(f.ctx, "missing", 2)
	wantKind(t, err, errs.KindNotFound)
	want := []string{blogevents.ArticlePublished, blogevents.ArticleFavorited, blogevents.ArticleFavorited,
		blogevents.ArticleUnfavorited}
	require.Equal(t, want, f.outboxTypes(), "outbox (no events for no-ops)")
	// Concurrent favorites by many users count exactly.
	b := f.create("Popular", 1, nil, "")
	var wg sync.WaitGroup
	for u := int64(10); u < 20; u++ {
		wg.Go(func() {
			_, err := f.store.Favorite(f.ctx, b.Slug, u)
			assert.NoError(t, err, "concurrent favorite")
		})
	}
	wg.Wait()
	got, _ := f.store.Article(f.ctx, b.Slug)
	require.Equal(t, int64(10), got.FavoritesCount, "concurrent favorites count")
}

func testComments(f *fixture) {
	t := f.t
	a := f.create("Commented", 1, nil, "")
	other := f.create("Other", 1, nil, "")
	c1, err := f.store.AddComment(f.ctx, a.Slug, 2, "user2", "first")
	require.NoError(t, err)
	c2, err := f.store.AddComment(f.ctx, a.Slug, 3, "user3", "second")
	require.NoError(t, err)
	oc, err := f.store.AddComment(f.ctx, other.Slug, 2, "user2", "elsewhere")
	require.NoError(t, err)
	_, err = f.store.AddComment(f.ctx, "missing", 2, "user2", "x")
	wantKind(t, err, errs.KindNotFound)
	cs, err := f.store.Comments(f.ctx, a.Slug, 0)
	require.NoError(t, err)
	require.Len(t, cs, 2, "comments %+v", cs)
	require.Equal(t, []int64{c2.ID, c1.ID}, []int64{cs[0].ID, cs[1].ID}, "newest first")
	require.Equal(t, "first", cs[1].Body)
	require.Equal(t, "user2", cs[1].AuthorUsername)
	require.True(t, cs[1].CreatedAt.Equal(c1.CreatedAt), "comments %+v", cs)
	_, err = f.store.Comments(f.ctx, "missing", 0)
	wantKind(t, err, errs.KindNotFound)
	allow := func(domain.Comment) error { return nil }
	wantKind(t, f.store.DeleteComment(f.ctx, a.Slug, oc.ID, 0, allow), errs.KindNotFound) // another article's comment
	wantKind(t, f.store.DeleteComment(f.ctx, a.Slug, 99999, 0, allow), errs.KindNotFound)
	wantKind(t, f.store.DeleteComment(f.ctx, "missing", c1.ID, 0, allow), errs.KindNotFound)
	wantKind(t, f.store.DeleteComment(f.ctx, a.Slug, c1.ID, 0, func(c domain.Comment) error {
		assert.Equal(t, int64(2), c.AuthorID, "check got %+v", c)
		assert.Equal(t, "first", c.Body, "check got %+v", c)
		return errs.Forbidden("no")
	}), errs.KindForbidden)
	require.NoError(t, f.store.DeleteComment(f.ctx, a.Slug, c1.ID, 0, allow))
	cs, _ = f.store.Comments(f.ctx, a.Slug, 0)
	require.Len(t, cs, 1, "after delete: %+v", cs)
	require.Equal(t, c2.ID, cs[0].ID, "after delete")
	got := f.outboxTypes()
	require.Equal(t, blogevents.CommentDeleted, got[len(got)-1], "outbox %q", got)
}

func testTagsCategories(f *fixture) {
	t := f.t
	f.create("A", 1, []string{"go", "db"}, "technology")
	f.create("B", 1, []string{"go", "zz"}, "technology")
	f.create("C", 1, []string{"go", "db", "ünï"}, "food")
	tags, err := f.store.Tags(f.ctx, 100)
	require.NoError(t, err)
	require.Equal(t, []string{"go", "db", "zz", "ünï"}, tags)
	tags, _ = f.store.Tags(f.ctx, 2)
	require.Equal(t, []string{"go", "db"}, tags, "limited tags")
	cats, err := f.store.Categories(f.ctx)
	require.NoError(t, err)
	require.Len(t, cats, 8, "categories %+v", cats)
	counts := map[string]int64{}
	colors := map[string]bool{}
	for _, c := range cats {
		counts[c.Slug] = c.ArticlesCount
		assert.Regexp(t, `^#.{6}$`, c.Color, "category %+v: bad colour", c)
		assert.False(t, colors[c.Color], "category %+v: repeated colour", c)
		assert.NotEmpty(t, c.Name, "category %+v", c)
		colors[c.Color] = true
	}
	require.Equal(t, "technology", cats[0].Slug, "the most used first")
	require.Equal(t, int64(2), counts["technology"], "counts %v", counts)
	require.Equal(t, int64(1), counts["food"], "counts %v", counts)
	require.Zero(t, counts["travel"], "counts %v", counts)
	for slug, want := range map[string]bool{"food": true, "Food": false, "nope": false} {
		ok, err := f.store.CategoryExists(f.ctx, slug)
		assert.NoError(t, err, "CategoryExists(%q)", slug)
		assert.Equal(t, want, ok, "CategoryExists(%q)", slug)
	}
}

func ptr(s string) *string { return &s }

func testAuthors(f *fixture) {
	t := f.t
	apply := func(p domain.Profile, want bool) {
		t.Helper()
		got, err := f.store.UpsertAuthor(f.ctx, p)
		require.NoError(t, err, "UpsertAuthor(%+v)", p)
		require.Equal(t, want, got, "UpsertAuthor(%+v)", p)
	}
	apply(domain.Profile{ID: 1, Username: "Jake", Bio: ptr("hi"), Version: 10}, true)
	apply(domain.Profile{ID: 1, Username: "Jake", Bio: ptr("old"), Version: 5}, false)   // older
	apply(domain.Profile{ID: 1, Username: "Jake", Bio: ptr("same"), Version: 10}, false) // replay
	apply(domain.Profile{ID: 1, Username: "Jacob", Image: ptr("i.png"), Version: 20}, true)
	ps, err := f.store.Authors(f.ctx, []int64{1, 2})
	require.NoError(t, err)
	require.Len(t, ps, 1, "authors %+v", ps)
	require.Equal(t, "Jacob", ps[1].Username)
	require.Nil(t, ps[1].Bio, "an event without a bio clears it")
	require.Equal(t, "i.png", *ps[1].Image)
	require.Equal(t, int64(20), ps[1].Version)
	for _, name := range []string{"jacob", "JACOB", "Jacob"} {
		p, ok, err := f.store.AuthorByUsername(f.ctx, name)
		require.NoError(t, err, "AuthorByUsername(%q)", name)
		require.True(t, ok, "AuthorByUsername(%q)", name)
		require.Equal(t, int64(1), p.ID, "AuthorByUsername(%q)", name)
	}
	_, ok, _ := f.store.AuthorByUsername(f.ctx, "jake")
	require.False(t, ok, "old username still resolves")
	// User 2 takes the name user 1 gave up; a stale row holding it is dropped.
	apply(domain.Profile{ID: 2, Username: "jacob", Version: 30}, true)
	p, ok, _ := f.store.AuthorByUsername(f.ctx, "Jacob")
	require.True(t, ok, "jacob does not resolve")
	require.Equal(t, int64(2), p.ID, "jacob resolves to %+v", p)
	ps, _ = f.store.Authors(f.ctx, []int64{1})
	require.Empty(t, ps, "stale row kept")
	// The stale user's own newer event brings it back.
	apply(domain.Profile{ID: 1, Username: "jake2", Version: 40}, true)
	ps, _ = f.store.Authors(f.ctx, []int64{1, 2})
	require.Len(t, ps, 2, "authors %+v", ps)
}

func testFollows(f *fixture) {
	t := f.t
	apply := func(fl domain.Follow, want bool) {
		t.Helper()
		got, err := f.store.ApplyFollowTx(f.ctx, f.db, fl)
		require.NoError(t, err, "ApplyFollow(%+v)", fl)
		require.Equal(t, want, got, "ApplyFollow(%+v)", fl)
	}
	following := func(follower int64, ids ...int64) map[int64]bool {
		t.Helper()
		m, err := f.store.Following(f.ctx, follower, ids)
		require.NoError(t, err)
		return m
	}
	apply(domain.Follow{FollowerID: 1, FolloweeID: 2, Following: true, At: 100}, true)
	apply(domain.Follow{FollowerID: 1, FolloweeID: 2, Following: false, At: 50}, false) // older: ignored
	m := following(1, 2, 3)
	require.True(t, m[2], "following %v", m)
	require.False(t, m[3], "following %v", m)
	apply(domain.Follow{FollowerID: 1, FolloweeID: 2, Following: false, At: 150}, true)
	apply(domain.Follow{FollowerID: 1, FolloweeID: 2, Following: true, At: 120}, false) // arrives late
	require.False(t, following(1, 2)[2], "following after unfollow")
	apply(domain.Follow{FollowerID: 1, FolloweeID: 3, Following: true, At: 1}, true)
	apply(domain.Follow{FollowerID: 4, FolloweeID: 3, Following: true, At: 1}, true)
	m = following(1, 2, 3)
	require.False(t, m[2], "following %v", m)
	require.True(t, m[3], "following %v", m)
	require.Empty(t, following(0, 3), "anonymous follows")
}

// testProcessedEvents checks what the event consumer relies on: recording an
// event ID twice for one consumer is a unique violation, so its handler's
// writes (in the same transaction) never apply twice; other consumers may
// record the same ID.
func testProcessedEvents(f *fixture) {
	t := f.t
	handle := func(consumer, id string, p domain.Profile) error {
		return f.db.Transact(f.ctx, func(tx *database.Tx) error {
			if _, err := tx.ExecContext(f.ctx, `INSERT INTO processed_events (consumer, event_id, processed_at) VALUES ($1, $2, $3)`,
				consumer, id, time.Now().UnixMilli()); err != nil {
				return err
			}
			_, err := f.store.UpsertAuthorTx(f.ctx, tx, p)
			return err
		})
	}
	require.NoError(t, handle("blog-users", "ev-1", domain.Profile{ID: 7, Username: "seven", Version: 1}))
	err := handle("blog-users", "ev-1", domain.Profile{ID: 7, Username: "changed", Version: 2})
	require.True(t, database.IsUniqueViolation(err), "second delivery: %v, want a unique violation", err)
	ps, _ := f.store.Authors(f.ctx, []int64{7})
	require.Equal(t, "seven", ps[7].Username, "duplicate applied: %+v", ps[7])
	require.NoError(t, handle("other", "ev-1", domain.Profile{ID: 8, Username: "eight", Version: 1}), "other consumer")
	require.NoError(t, handle("blog-users", "ev-2", domain.Profile{ID: 7, Username: "boom", Version: 3}))
}
