package sqlstore_test

import (
	"slices"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tungsten-blog/tungsten/internal/blog/blogevents"
	"github.com/tungsten-blog/tungsten/internal/blog/domain"
	"github.com/tungsten-blog/tungsten/internal/platform/errs"
)

// every list query a draft must never appear in, by what it filters on.
func publicQueries(terms string) map[string]domain.ListQuery {
	return map[string]domain.ListQuery{
		"all":       {},
		"tag":       {Tag: "secret"},
		"author":    {AuthorID: 1},
		"category":  {Category: "science"},
		"favorited": {FavoritedBy: 1},
		"feed":      {FollowedBy: 3},
		"search":    {Terms: domain.SearchTerms(terms)},
	}
}

// testDrafts: a draft is in no list, feed, search, tag or category count;
// publishing it puts it everywhere with the event a new article sends, and
// taking it back to draft removes it again with a new preview token.
func testDrafts(f *fixture) {
	t := f.t
	_, err := f.store.ApplyFollowTx(f.ctx, f.db, domain.Follow{FollowerID: 3, FolloweeID: 1, Following: true, At: 1})
	require.NoError(t, err)
	pub := f.create("Published zebra", 1, []string{"public"}, "technology")
	in := domain.ArticleInput{Title: "Draft aardvark", Description: "about aardvarks", Body: "aardvark body",
		Tags: []string{"secret"}, Category: "science", Draft: true}.Normalize()
	before := len(f.outboxTypes())
	d, err := f.store.CreateArticle(f.ctx, in, 1, "user1")
	require.NoError(t, err)
	require.True(t, d.Draft)
	require.True(t, domain.IsPreviewToken(d.PreviewToken), "a draft gets a preview token: %q", d.PreviewToken)
	require.Len(t, f.outboxTypes(), before, "a draft announces nothing")
	_, err = f.store.Favorite(f.ctx, d.Slug, 1) // its author may
	require.NoError(t, err)
	_, err = f.store.Favorite(f.ctx, d.Slug, 2)
	wantKind(t, err, errs.KindNotFound)

	hidden := func(when string) {
		t.Helper()
		for name, q := range publicQueries("aardvark") {
			p := f.list(q)
			assert.NotContains(t, slugs(p), d.Slug, "%s: %s list", when, name)
			assert.Equal(t, int64(len(p.Articles)), p.Total, "%s: %s count", when, name)
		}
		tags, err := f.store.Tags(f.ctx, 10)
		require.NoError(t, err)
		assert.NotContains(t, tags, "secret", when+": tags")
		cats, err := f.store.Categories(f.ctx)
		require.NoError(t, err)
		for _, c := range cats {
			if c.Slug == "science" {
				assert.Zero(t, c.ArticlesCount, when+": category count")
			}
		}
		_, err = f.store.Comments(f.ctx, d.Slug, 2)
		wantKind(t, err, errs.KindNotFound)
		_, err = f.store.AddComment(f.ctx, d.Slug, 2, "user2", "hi")
		wantKind(t, err, errs.KindNotFound)
	}
	hidden("created as a draft")
	drafts := f.list(domain.ListQuery{DraftsOf: 1})
	require.Equal(t, []string{d.Slug}, slugs(drafts), "the author's drafts")
	require.True(t, drafts.Articles[0].Draft)
	require.Empty(t, slugs(f.list(domain.ListQuery{DraftsOf: 2})), "nobody else's")

	got, err := f.store.ArticleByPreviewToken(f.ctx, d.PreviewToken)
	require.NoError(t, err)
	require.Equal(t, d.Slug, got.Slug)
	renewed, err := f.store.NewPreviewToken(f.ctx, d.Slug, func(domain.Article) error { return nil })
	require.NoError(t, err)
	require.NotEqual(t, d.PreviewToken, renewed.PreviewToken)
	_, err = f.store.ArticleByPreviewToken(f.ctx, d.PreviewToken)
	wantKind(t, err, errs.KindNotFound)
	_, err = f.store.ArticleByPreviewToken(f.ctx, renewed.PreviewToken)
	require.NoError(t, err)

	// Editing a draft keeps it one, and quiet.
	before = len(f.outboxTypes())
	_, err = f.store.UpdateArticle(f.ctx, d.Slug, func(cur domain.Article) (domain.ArticleInput, error) {
		return domain.ArticleInput{Title: cur.Title, Description: cur.Description, Body: cur.Body + " more aardvark",
			Tags: cur.Tags, Category: cur.Category, Draft: true}, nil
	})
	require.NoError(t, err)
	require.Len(t, f.outboxTypes(), before, "editing a draft announces nothing")
	hidden("edited as a draft")

	// Publishing: everywhere, newest, with blog.article.published.
	p, err := f.store.UpdateArticle(f.ctx, d.Slug, func(cur domain.Article) (domain.ArticleInput, error) {
		return domain.ArticleInput{Title: cur.Title, Description: cur.Description, Body: cur.Body,
			Tags: cur.Tags, Category: cur.Category}, nil
	})
	require.NoError(t, err)
	require.False(t, p.Draft)
	require.Empty(t, p.PreviewToken, "a published article has no preview link")
	require.True(t, p.CreatedAt.After(pub.CreatedAt), "dated when published")
	types := f.outboxTypes()
	require.Equal(t, blogevents.ArticlePublished, types[len(types)-1])
	for name, q := range publicQueries("aardvark") {
		assert.Contains(t, slugs(f.list(q)), d.Slug, "published: %s list", name)
	}
	require.Equal(t, d.Slug, slugs(f.list(domain.ListQuery{}))[0], "newest first")
	tags, err := f.store.Tags(f.ctx, 10)
	require.NoError(t, err)
	require.Contains(t, tags, "secret")
	_, err = f.store.ArticleByPreviewToken(f.ctx, renewed.PreviewToken)
	wantKind(t, err, errs.KindNotFound)
	require.Empty(t, slugs(f.list(domain.ListQuery{DraftsOf: 1})))

	// Back to draft: gone again, a new token, blog.article.unpublished.
	u, err := f.store.UpdateArticle(f.ctx, d.Slug, func(cur domain.Article) (domain.ArticleInput, error) {
		return domain.ArticleInput{Title: cur.Title, Description: cur.Description, Body: cur.Body,
			Tags: cur.Tags, Category: cur.Category, Draft: true}, nil
	})
	require.NoError(t, err)
	require.True(t, u.Draft)
	require.True(t, domain.IsPreviewToken(u.PreviewToken))
	require.NotEqual(t, renewed.PreviewToken, u.PreviewToken)
	types = f.outboxTypes()
	require.Equal(t, blogevents.ArticleUnpublished, types[len(types)-1])
	hidden("unpublished")
	n, err := f.store.Reindex(f.ctx)
	require.NoError(t, err)
	require.Zero(t, n, "Reindex leaves drafts out of the index")
	hidden("after Reindex")

	// Deleting a draft announces nothing either.
	before = len(f.outboxTypes())
	require.NoError(t, f.store.DeleteArticle(f.ctx, d.Slug, func(domain.Article) error { return nil }))
	require.Len(t, f.outboxTypes(), before)
	require.False(t, slices.Contains(slugs(f.list(domain.ListQuery{DraftsOf: 1})), d.Slug))
}
