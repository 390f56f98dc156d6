package sqlstore_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tungsten-blog/tungsten/internal/blog"
	"github.com/tungsten-blog/tungsten/internal/blog/adapters/sqlstore"
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
	if err := in.Validate(); err != nil {
		f.t.Fatal(err)
	}
	a, err := f.store.CreateArticle(f.ctx, in, author, "user"+string(rune('0'+author)))
	if err != nil {
		f.t.Fatalf("CreateArticle(%q): %v", title, err)
	}
	return a
}

func (f *fixture) list(q domain.ListQuery) domain.Page {
	f.t.Helper()
	if q.Limit == 0 {
		q.Limit = 20
	}
	p, err := f.store.ListArticles(f.ctx, q)
	if err != nil {
		f.t.Fatalf("ListArticles(%+v): %v", q, err)
	}
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
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			f.t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func wantKind(t testing.TB, err error, kind errs.Kind) {
	t.Helper()
	if !errs.Is(err, kind) {
		t.Fatalf("error = %v, want kind %v", err, kind)
	}
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
	{"SearchBounds", testSearchBounds},
	{"OrderingCountsPagination", testPaging},
	{"Favorites", testFavorites},
	{"Comments", testComments},
	{"TagsAndCategories", testTagsCategories},
	{"AuthorsReadModel", testAuthors},
	{"FollowsLastWriteWins", testFollows},
	{"ProcessedEventsIdempotency", testProcessedEvents},
}

func testCRUD(f *fixture) {
	t := f.t
	a := f.create("How to train your dragon", 1, []string{"training", "dragons"}, "science")
	if a.Slug != "how-to-train-your-dragon" || !slices.Equal(a.Tags, []string{"dragons", "training"}) || a.Category != "science" {
		t.Fatalf("created %+v", a)
	}
	got, err := f.store.Article(f.ctx, a.Slug)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != a.ID || got.Body != "body of How to train your dragon" || !slices.Equal(got.Tags, a.Tags) ||
		got.AuthorID != 1 || got.AuthorUsername != "user1" || !got.CreatedAt.Equal(a.CreatedAt) || got.Category != "science" {
		t.Fatalf("loaded %+v, created %+v", got, a)
	}

	upd, err := f.store.UpdateArticle(f.ctx, a.Slug, func(cur domain.Article) (domain.ArticleInput, error) {
		return domain.ArticleInput{Title: "Did you train your dragon?", Description: cur.Description, Body: "new body",
			Tags: []string{"dragons", "zoo"}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if upd.Slug != "did-you-train-your-dragon" || upd.Body != "new body" || upd.Category != "" ||
		!upd.UpdatedAt.After(upd.CreatedAt) || !slices.Equal(upd.Tags, []string{"dragons", "zoo"}) {
		t.Fatalf("updated %+v", upd)
	}
	_, err = f.store.Article(f.ctx, a.Slug)
	wantKind(t, err, errs.KindNotFound)
	got, err = f.store.Article(f.ctx, upd.Slug)
	if err != nil || got.Title != "Did you train your dragon?" || got.Category != "" || !slices.Equal(got.Tags, upd.Tags) {
		t.Fatalf("after update: %+v, %v", got, err)
	}

	// The update function's error aborts the update.
	_, err = f.store.UpdateArticle(f.ctx, upd.Slug, func(domain.Article) (domain.ArticleInput, error) {
		return domain.ArticleInput{}, errs.Forbidden("no")
	})
	wantKind(t, err, errs.KindForbidden)
	_, err = f.store.UpdateArticle(f.ctx, "missing", func(domain.Article) (domain.ArticleInput, error) {
		t.Fatal("update called for a missing article")
		return domain.ArticleInput{}, nil
	})
	wantKind(t, err, errs.KindNotFound)

	if _, err := f.store.AddComment(f.ctx, upd.Slug, 2, "user2", "nice"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.Favorite(f.ctx, upd.Slug, 2); err != nil {
		t.Fatal(err)
	}
	wantKind(t, f.store.DeleteArticle(f.ctx, upd.Slug, func(domain.Article) error { return errs.Forbidden("no") }), errs.KindForbidden)
	if err := f.store.DeleteArticle(f.ctx, upd.Slug, func(domain.Article) error { return nil }); err != nil {
		t.Fatal(err)
	}
	_, err = f.store.Article(f.ctx, upd.Slug)
	wantKind(t, err, errs.KindNotFound)
	wantKind(t, f.store.DeleteArticle(f.ctx, upd.Slug, func(domain.Article) error { return nil }), errs.KindNotFound)
	for _, table := range []string{"article_tags", "comments", "favorites", "articles"} {
		var n int
		if err := f.db.QueryRowContext(f.ctx, `SELECT COUNT(*) FROM `+table).Scan(&n); err != nil || n != 0 {
			t.Errorf("%s holds %d rows after delete (err %v)", table, n, err)
		}
	}
	want := []string{domain.EventArticlePublished, domain.EventArticleUpdated, domain.EventCommentAdded,
		domain.EventArticleFavorited, domain.EventArticleDeleted}
	if got := f.outboxTypes(); !slices.Equal(got, want) {
		t.Fatalf("outbox = %q, want %q", got, want)
	}
}

func testSlugs(f *fixture) {
	t := f.t
	a := f.create("Same title", 1, nil, "")
	b := f.create("Same title", 2, nil, "")
	if a.Slug != "same-title" || !strings.HasPrefix(b.Slug, "same-title-") || len(b.Slug) != len("same-title-")+6 {
		t.Fatalf("slugs %q and %q", a.Slug, b.Slug)
	}
	if feed := f.create("Feed", 1, nil, ""); !strings.HasPrefix(feed.Slug, "feed-") {
		t.Fatalf("reserved slug used: %q", feed.Slug)
	}
	if u := f.create("Ünïcödé Тест 東京", 1, nil, ""); u.Slug != "ünïcödé-тест-東京" {
		t.Fatalf("unicode slug %q", u.Slug)
	}
	if _, err := f.store.Article(f.ctx, "ünïcödé-тест-東京"); err != nil {
		t.Fatalf("loading by unicode slug: %v", err)
	}
	// Same words, other case: the (suffixed) slug stays.
	b2, err := f.store.UpdateArticle(f.ctx, b.Slug, func(cur domain.Article) (domain.ArticleInput, error) {
		return domain.ArticleInput{Title: "SAME TITLE!", Description: cur.Description, Body: cur.Body}, nil
	})
	if err != nil || b2.Slug != b.Slug {
		t.Fatalf("same-words update moved slug %q -> %q (%v)", b.Slug, b2.Slug, err)
	}
	// Renaming to a taken slug gets a suffix.
	c := f.create("Other", 1, nil, "")
	c2, err := f.store.UpdateArticle(f.ctx, c.Slug, func(cur domain.Article) (domain.ArticleInput, error) {
		return domain.ArticleInput{Title: "Same Title", Description: cur.Description, Body: cur.Body}, nil
	})
	if err != nil || c2.Slug == a.Slug || c2.Slug == b.Slug || !strings.HasPrefix(c2.Slug, "same-title-") {
		t.Fatalf("rename to taken slug gave %q (%v)", c2.Slug, err)
	}
	// Concurrent creations with one title all succeed with distinct slugs.
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[string]bool{}
	for range 8 {
		wg.Go(func() {
			in := domain.ArticleInput{Title: "Race", Description: "d", Body: "b"}
			a, err := f.store.CreateArticle(f.ctx, in, 1, "user1")
			if err != nil {
				t.Errorf("concurrent create: %v", err)
				return
			}
			mu.Lock()
			seen[a.Slug] = true
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(seen) != 8 {
		t.Fatalf("concurrent creates gave %d distinct slugs", len(seen))
	}
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
		if got := slugs(p); !slices.Equal(got, tt.want) || p.Total != int64(len(tt.want)) {
			t.Errorf("%s: got %q (total %d), want %q", tt.name, got, p.Total, tt.want)
		}
	}
	// Favorited by, and the feed (follows from the read model).
	for _, slug := range []string{a.Slug, b.Slug} {
		if _, err := f.store.Favorite(f.ctx, slug, 3); err != nil {
			t.Fatal(err)
		}
	}
	if got := slugs(f.list(domain.ListQuery{FavoritedBy: 3})); !slices.Equal(got, []string{b.Slug, a.Slug}) {
		t.Errorf("favorited: %q", got)
	}
	if got := slugs(f.list(domain.ListQuery{FavoritedBy: 3, Category: "technology"})); !slices.Equal(got, []string{a.Slug}) {
		t.Errorf("favorited+category: %q", got)
	}
	if got := slugs(f.list(domain.ListQuery{FollowedBy: 3})); len(got) != 0 {
		t.Errorf("feed without follows: %q", got)
	}
	for _, fl := range []domain.Follow{
		{FollowerID: 3, FolloweeID: 2, Following: true, At: 10},
		{FollowerID: 3, FolloweeID: 1, Following: true, At: 10},
		{FollowerID: 3, FolloweeID: 1, Following: false, At: 11},
	} {
		if _, err := f.store.ApplyFollowTx(f.ctx, f.db, fl); err != nil {
			t.Fatal(err)
		}
	}
	if p := f.list(domain.ListQuery{FollowedBy: 3}); !slices.Equal(slugs(p), []string{b.Slug}) || p.Total != 1 {
		t.Errorf("feed: %q total %d", slugs(p), p.Total)
	}
}

func testSearch(f *fixture) {
	t := f.t
	in := func(title, desc, body string) domain.Article {
		a, err := f.store.CreateArticle(f.ctx, domain.ArticleInput{Title: title, Description: desc, Body: body}, 1, "user1")
		if err != nil {
			t.Fatal(err)
		}
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
		if got := search(tt.q); !slices.Equal(got, tt.want) {
			t.Errorf("search %q = %q, want %q", tt.q, got, tt.want)
		}
	}
	// The index follows updates and deletes.
	if _, err := f.store.UpdateArticle(f.ctx, dragon.Slug, func(cur domain.Article) (domain.ArticleInput, error) {
		return domain.ArticleInput{Title: "How to tame a wyvern", Description: cur.Description, Body: cur.Body}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := search("dragon"); len(got) != 0 {
		t.Errorf("old title still found: %q", got)
	}
	if got := search("wyvern"); len(got) != 1 {
		t.Errorf("new title not found: %q", got)
	}
	if _, err := f.store.Favorite(f.ctx, "how-to-tame-a-wyvern", 5); err != nil {
		t.Fatal(err)
	}
	if got := search("wyvern carefully"); len(got) != 1 {
		t.Errorf("after favorite: %q", got)
	}
	if err := f.store.DeleteArticle(f.ctx, "how-to-tame-a-wyvern", func(domain.Article) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if got := search("wyvern"); len(got) != 0 {
		t.Errorf("deleted article found: %q", got)
	}
	// Search combines with other filters and counts.
	p := f.list(domain.ListQuery{Terms: domain.SearchTerms("über"), AuthorID: 1})
	if p.Total != 1 {
		t.Errorf("search+author total %d", p.Total)
	}
	// Results carry a snippet of where they matched, and no body.
	p = f.list(domain.ListQuery{Terms: domain.SearchTerms("모니터링")})
	if len(p.Articles) != 1 || p.Articles[0].Body != "" {
		t.Fatalf("search 모니터링: %+v", p.Articles)
	}
	var marked []string
	for _, part := range p.Articles[0].Snippet {
		if part.Match {
			marked = append(marked, part.Text)
		}
	}
	if !slices.Equal(marked, []string{"모니터링"}) {
		t.Errorf("snippet %+v marks %q", p.Articles[0].Snippet, marked)
	}
}

// testRanking: a match in the title ranks above one in the description,
// which ranks above one in the body, whatever their age.
func testRanking(f *fixture) {
	t := f.t
	in := func(title, desc, body string) string {
		a, err := f.store.CreateArticle(f.ctx, domain.ArticleInput{Title: title, Description: desc, Body: body}, 1, "user1")
		if err != nil {
			t.Fatal(err)
		}
		return a.Slug
	}
	title := in("그라파나 대시보드", "설명입니다", "본문입니다. 오늘은 날씨가 좋습니다.")
	desc := in("대시보드 이야기", "그라파나로 만든 화면", "본문입니다. 오늘은 날씨가 좋습니다.")
	body := in("화면 이야기", "설명입니다", "본문에서 그라파나를 잠깐 언급합니다.")
	_ = in("다른 이야기", "설명입니다", "관계없는 글입니다.")
	p := f.list(domain.ListQuery{Terms: domain.SearchTerms("그라파나")})
	if got := slugs(p); !slices.Equal(got, []string{title, desc, body}) || p.Total != 3 {
		t.Errorf("ranked %q (total %d), want %q", got, p.Total, []string{title, desc, body})
	}
	// Paging through ranked results keeps the order.
	p1 := f.list(domain.ListQuery{Terms: domain.SearchTerms("그라파나"), Limit: 2})
	p2 := f.list(domain.ListQuery{Terms: domain.SearchTerms("그라파나"), Limit: 2, Offset: 2})
	if got := append(slugs(p1), slugs(p2)...); !slices.Equal(got, []string{title, desc, body}) {
		t.Errorf("paged %q", got)
	}
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
		if p.Total != 5 || !slices.Equal(slugsSorted(p), slices.Sorted(slices.Values(all[:5]))) {
			t.Errorf("window %d: %q (total %d), want the newest 5 of %q", window, slugs(p), p.Total, all)
		}
		// A rare word's matches lie outside the window: still found.
		if p := search("드문"); p.Total != 3 || !slices.Equal(slugsSorted(p), slices.Sorted(slices.Values(rare))) {
			t.Errorf("window %d, rare: %q (total %d), want %q", window, slugs(p), p.Total, rare)
		}
	}
	if full.Total != 12 {
		t.Errorf("unbounded: total %d", full.Total)
	}
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
	if _, err := f.db.ExecContext(f.ctx, drop, a.ID); err != nil {
		t.Fatal(err)
	}
	if p := f.list(domain.ListQuery{Terms: domain.SearchTerms("예전")}); p.Total != 0 {
		t.Fatalf("unindexed article found: %q", slugs(p))
	}
	n, err := f.store.Reindex(f.ctx)
	if err != nil || n != 1 {
		t.Fatalf("Reindex = %d, %v; want 1", n, err)
	}
	if p := f.list(domain.ListQuery{Terms: domain.SearchTerms("예전")}); !slices.Equal(slugs(p), []string{a.Slug}) {
		t.Errorf("after reindex: %q", slugs(p))
	}
	if p := f.list(domain.ListQuery{Terms: domain.SearchTerms("글")}); p.Total != 2 {
		t.Errorf("글: %q, want %s and %s", slugs(p), a.Slug, b.Slug)
	}
	if n, err := f.store.Reindex(f.ctx); err != nil || n != 0 {
		t.Errorf("second Reindex = %d, %v; want 0", n, err)
	}
}

func testPaging(f *fixture) {
	t := f.t
	var all []string
	for i := range 25 {
		all = append([]string{f.create("Post "+string(rune('a'+i)), 1, nil, "").Slug}, all...)
	}
	p := f.list(domain.ListQuery{Limit: 10})
	if p.Total != 25 || !slices.Equal(slugs(p), all[:10]) {
		t.Fatalf("first page %q total %d", slugs(p), p.Total)
	}
	p = f.list(domain.ListQuery{Limit: 10, Offset: 20})
	if p.Total != 25 || !slices.Equal(slugs(p), all[20:]) {
		t.Fatalf("last page %q total %d", slugs(p), p.Total)
	}
	p = f.list(domain.ListQuery{Limit: 10, Offset: 25})
	if p.Total != 25 || len(p.Articles) != 0 || p.Articles == nil {
		t.Fatalf("past the end: %q total %d", slugs(p), p.Total)
	}
	p, err := f.store.ListArticles(f.ctx, domain.ListQuery{Limit: 0})
	if err != nil || p.Total != 25 || len(p.Articles) != 0 {
		t.Fatalf("limit 0: %d articles, total %d, %v", len(p.Articles), p.Total, err)
	}
	p = f.list(domain.ListQuery{Limit: 100, Offset: 1 << 40})
	if p.Total != 25 || len(p.Articles) != 0 {
		t.Fatalf("huge offset: %d", len(p.Articles))
	}
	// Equal timestamps fall back to id order (newest id first).
	if _, err := f.db.ExecContext(f.ctx, `UPDATE articles SET created_at = 1`); err != nil {
		t.Fatal(err)
	}
	if p := f.list(domain.ListQuery{Limit: 3}); !slices.Equal(slugs(p), all[:3]) {
		t.Fatalf("tie order %q, want %q", slugs(p), all[:3])
	}
	// List rows carry no body but do carry tags.
	a := f.create("Tagged", 2, []string{"b", "a"}, "food")
	p = f.list(domain.ListQuery{AuthorID: 2})
	if len(p.Articles) != 1 || p.Articles[0].Body != "" || !slices.Equal(p.Articles[0].Tags, []string{"a", "b"}) ||
		p.Articles[0].Category != "food" || p.Articles[0].Slug != a.Slug {
		t.Fatalf("row %+v", p.Articles)
	}
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
		if err != nil || got.FavoritesCount != want {
			t.Fatalf("favorite(%v, %d): count %d, want %d (%v)", on, user, got.FavoritesCount, want, err)
		}
		stored, _ := f.store.Article(f.ctx, a.Slug)
		if stored.FavoritesCount != want {
			t.Fatalf("stored count %d, want %d", stored.FavoritesCount, want)
		}
	}
	step(true, 2, 1)
	step(true, 2, 1) // idempotent
	step(true, 3, 2)
	step(false, 2, 1)
	step(false, 2, 1) // idempotent
	step(false, 9, 1)
	fav, err := f.store.FavoritedBy(f.ctx, 3, []int64{a.ID, a.ID + 100})
	if err != nil || !fav[a.ID] || fav[a.ID+100] {
		t.Fatalf("FavoritedBy = %v, %v", fav, err)
	}
	if fav, _ := f.store.FavoritedBy(f.ctx, 2, []int64{a.ID}); fav[a.ID] {
		t.Fatal("unfavorited article reported as favorited")
	}
	_, err = f.store.Favorite(f.ctx, "missing", 2)
	wantKind(t, err, errs.KindNotFound)
	want := []string{domain.EventArticlePublished, domain.EventArticleFavorited, domain.EventArticleFavorited,
		domain.EventArticleUnfavorited}
	if got := f.outboxTypes(); !slices.Equal(got, want) {
		t.Fatalf("outbox %q, want %q (no events for no-ops)", got, want)
	}
	// Concurrent favorites by many users count exactly.
	b := f.create("Popular", 1, nil, "")
	var wg sync.WaitGroup
	for u := int64(10); u < 20; u++ {
		wg.Go(func() {
			if _, err := f.store.Favorite(f.ctx, b.Slug, u); err != nil {
				t.Errorf("concurrent favorite: %v", err)
			}
		})
	}
	wg.Wait()
	if got, _ := f.store.Article(f.ctx, b.Slug); got.FavoritesCount != 10 {
		t.Fatalf("concurrent favorites count %d, want 10", got.FavoritesCount)
	}
}

func testComments(f *fixture) {
	t := f.t
	a := f.create("Commented", 1, nil, "")
	other := f.create("Other", 1, nil, "")
	c1, err := f.store.AddComment(f.ctx, a.Slug, 2, "user2", "first")
	if err != nil {
		t.Fatal(err)
	}
	c2, err := f.store.AddComment(f.ctx, a.Slug, 3, "user3", "second")
	if err != nil {
		t.Fatal(err)
	}
	oc, err := f.store.AddComment(f.ctx, other.Slug, 2, "user2", "elsewhere")
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.store.AddComment(f.ctx, "missing", 2, "user2", "x")
	wantKind(t, err, errs.KindNotFound)
	cs, err := f.store.Comments(f.ctx, a.Slug)
	if err != nil || len(cs) != 2 || cs[0].ID != c2.ID || cs[1].ID != c1.ID || cs[1].Body != "first" ||
		cs[1].AuthorUsername != "user2" || !cs[1].CreatedAt.Equal(c1.CreatedAt) {
		t.Fatalf("comments %+v, %v", cs, err)
	}
	_, err = f.store.Comments(f.ctx, "missing")
	wantKind(t, err, errs.KindNotFound)
	allow := func(domain.Comment) error { return nil }
	wantKind(t, f.store.DeleteComment(f.ctx, a.Slug, oc.ID, allow), errs.KindNotFound) // another article's comment
	wantKind(t, f.store.DeleteComment(f.ctx, a.Slug, 99999, allow), errs.KindNotFound)
	wantKind(t, f.store.DeleteComment(f.ctx, "missing", c1.ID, allow), errs.KindNotFound)
	wantKind(t, f.store.DeleteComment(f.ctx, a.Slug, c1.ID, func(c domain.Comment) error {
		if c.AuthorID != 2 || c.Body != "first" {
			t.Errorf("check got %+v", c)
		}
		return errs.Forbidden("no")
	}), errs.KindForbidden)
	if err := f.store.DeleteComment(f.ctx, a.Slug, c1.ID, allow); err != nil {
		t.Fatal(err)
	}
	if cs, _ := f.store.Comments(f.ctx, a.Slug); len(cs) != 1 || cs[0].ID != c2.ID {
		t.Fatalf("after delete: %+v", cs)
	}
	if got := f.outboxTypes(); got[len(got)-1] != domain.EventCommentDeleted {
		t.Fatalf("outbox %q", got)
	}
}

func testTagsCategories(f *fixture) {
	t := f.t
	f.create("A", 1, []string{"go", "db"}, "technology")
	f.create("B", 1, []string{"go", "zz"}, "technology")
	f.create("C", 1, []string{"go", "db", "ünï"}, "food")
	tags, err := f.store.Tags(f.ctx, 100)
	if err != nil || !slices.Equal(tags, []string{"go", "db", "zz", "ünï"}) {
		t.Fatalf("tags %q, %v", tags, err)
	}
	if tags, _ := f.store.Tags(f.ctx, 2); !slices.Equal(tags, []string{"go", "db"}) {
		t.Fatalf("limited tags %q", tags)
	}
	cats, err := f.store.Categories(f.ctx)
	if err != nil || len(cats) != 8 {
		t.Fatalf("categories %+v, %v", cats, err)
	}
	counts := map[string]int64{}
	colors := map[string]bool{}
	for _, c := range cats {
		counts[c.Slug] = c.ArticlesCount
		if len(c.Color) != 7 || c.Color[0] != '#' || colors[c.Color] || c.Name == "" {
			t.Errorf("category %+v: bad or repeated colour", c)
		}
		colors[c.Color] = true
	}
	if cats[0].Slug != "technology" || counts["technology"] != 2 || counts["food"] != 1 || counts["travel"] != 0 {
		t.Fatalf("counts %v", counts)
	}
	for slug, want := range map[string]bool{"food": true, "Food": false, "nope": false} {
		if ok, err := f.store.CategoryExists(f.ctx, slug); err != nil || ok != want {
			t.Errorf("CategoryExists(%q) = %v, %v", slug, ok, err)
		}
	}
}

func ptr(s string) *string { return &s }

func testAuthors(f *fixture) {
	t := f.t
	apply := func(p domain.Profile, want bool) {
		t.Helper()
		got, err := f.store.UpsertAuthor(f.ctx, p)
		if err != nil || got != want {
			t.Fatalf("UpsertAuthor(%+v) = %v, %v; want %v", p, got, err, want)
		}
	}
	apply(domain.Profile{ID: 1, Username: "Jake", Bio: ptr("hi"), Version: 10}, true)
	apply(domain.Profile{ID: 1, Username: "Jake", Bio: ptr("old"), Version: 5}, false)   // older
	apply(domain.Profile{ID: 1, Username: "Jake", Bio: ptr("same"), Version: 10}, false) // replay
	apply(domain.Profile{ID: 1, Username: "Jacob", Image: ptr("i.png"), Version: 20}, true)
	ps, err := f.store.Authors(f.ctx, []int64{1, 2})
	if err != nil || len(ps) != 1 || ps[1].Username != "Jacob" || ps[1].Bio != nil || *ps[1].Image != "i.png" || ps[1].Version != 20 {
		t.Fatalf("authors %+v, %v", ps, err)
	}
	for _, name := range []string{"jacob", "JACOB", "Jacob"} {
		if p, ok, err := f.store.AuthorByUsername(f.ctx, name); err != nil || !ok || p.ID != 1 {
			t.Fatalf("AuthorByUsername(%q) = %+v %v %v", name, p, ok, err)
		}
	}
	if _, ok, _ := f.store.AuthorByUsername(f.ctx, "jake"); ok {
		t.Fatal("old username still resolves")
	}
	// User 2 takes the name user 1 gave up; a stale row holding it is dropped.
	apply(domain.Profile{ID: 2, Username: "jacob", Version: 30}, true)
	if p, ok, _ := f.store.AuthorByUsername(f.ctx, "Jacob"); !ok || p.ID != 2 {
		t.Fatalf("jacob resolves to %+v", p)
	}
	if ps, _ := f.store.Authors(f.ctx, []int64{1}); len(ps) != 0 {
		t.Fatalf("stale row kept: %+v", ps)
	}
	// The stale user's own newer event brings it back.
	apply(domain.Profile{ID: 1, Username: "jake2", Version: 40}, true)
	if ps, _ := f.store.Authors(f.ctx, []int64{1, 2}); len(ps) != 2 {
		t.Fatalf("authors %+v", ps)
	}
}

func testFollows(f *fixture) {
	t := f.t
	apply := func(fl domain.Follow, want bool) {
		t.Helper()
		got, err := f.store.ApplyFollowTx(f.ctx, f.db, fl)
		if err != nil || got != want {
			t.Fatalf("ApplyFollow(%+v) = %v, %v; want %v", fl, got, err, want)
		}
	}
	following := func(follower int64, ids ...int64) map[int64]bool {
		t.Helper()
		m, err := f.store.Following(f.ctx, follower, ids)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	apply(domain.Follow{FollowerID: 1, FolloweeID: 2, Following: true, At: 100}, true)
	apply(domain.Follow{FollowerID: 1, FolloweeID: 2, Following: false, At: 50}, false) // older: ignored
	if m := following(1, 2, 3); !m[2] || m[3] {
		t.Fatalf("following %v", m)
	}
	apply(domain.Follow{FollowerID: 1, FolloweeID: 2, Following: false, At: 150}, true)
	apply(domain.Follow{FollowerID: 1, FolloweeID: 2, Following: true, At: 120}, false) // arrives late
	if m := following(1, 2); m[2] {
		t.Fatalf("following %v after unfollow", m)
	}
	apply(domain.Follow{FollowerID: 1, FolloweeID: 3, Following: true, At: 1}, true)
	apply(domain.Follow{FollowerID: 4, FolloweeID: 3, Following: true, At: 1}, true)
	if m := following(1, 2, 3); m[2] || !m[3] {
		t.Fatalf("following %v", m)
	}
	if m := following(0, 3); len(m) != 0 {
		t.Fatalf("anonymous follows %v", m)
	}
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
	if err := handle("blog-users", "ev-1", domain.Profile{ID: 7, Username: "seven", Version: 1}); err != nil {
		t.Fatal(err)
	}
	err := handle("blog-users", "ev-1", domain.Profile{ID: 7, Username: "changed", Version: 2})
	if !database.IsUniqueViolation(err) {
		t.Fatalf("second delivery: %v, want a unique violation", err)
	}
	if ps, _ := f.store.Authors(f.ctx, []int64{7}); ps[7].Username != "seven" {
		t.Fatalf("duplicate applied: %+v", ps[7])
	}
	if err := handle("other", "ev-1", domain.Profile{ID: 8, Username: "eight", Version: 1}); err != nil {
		t.Fatalf("other consumer: %v", err)
	}
	if err := handle("blog-users", "ev-2", domain.Profile{ID: 7, Username: "boom", Version: 3}); err != nil {
		t.Fatal(err)
	}
}
