package api_test

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var timestamp = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

func TestArticleLifecycleAndAuthorization(t *testing.T) {
	t.Parallel()
	author, other := register(t), register(t)
	call(t, "POST", "/api/articles", "", map[string]any{"article": map[string]any{"title": "x", "description": "y", "body": "z"}}).expect(t, 401)

	r := call(t, "POST", "/api/articles", author.Token, map[string]any{"article": map[string]any{}}).expect(t, 422)
	for _, f := range []string{"title", "description", "body"} {
		require.Contains(t, r.messages(), f)
	}
	call(t, "POST", "/api/articles", author.Token, map[string]any{"nope": 1}).expect(t, 422)
	call(t, "POST", "/api/articles", author.Token, `{"article":{"title":1}}`).expect(t, 422)
	call(t, "POST", "/api/articles", author.Token, `{"article":{"title":"a","description":"b","body":"c","tagList":"x"}}`).expect(t, 422)

	a := createArticle(t, author, map[string]any{"title": "Ünïcödé — Straße 東京 2026", "tagList": []string{"go", "go", " cloud "}})
	slug := a["slug"].(string)
	require.NotEmpty(t, slug)
	require.NotContains(t, slug, " ")
	require.Equal(t, strings.ToLower(slug), slug)
	require.Equal(t, []any{"cloud", "go"}, a["tagList"], "tags trimmed, deduplicated and sorted (the Postman collection expects sorted tags)")
	require.Regexp(t, timestamp, a["createdAt"])
	require.Regexp(t, timestamp, a["updatedAt"])
	require.Equal(t, false, a["favorited"])
	require.Equal(t, float64(0), a["favoritesCount"])
	require.Equal(t, author.Username, a["author"].(map[string]any)["username"])

	// Same title again: a different slug.
	b := createArticle(t, author, map[string]any{"title": a["title"]})
	require.NotEqual(t, slug, b["slug"])

	got := call(t, "GET", "/api/articles/"+url.PathEscape(slug), "", nil).expect(t, 200).obj("article")
	require.Equal(t, a["body"], got["body"])
	call(t, "GET", "/api/articles/"+unique("missing"), "", nil).expect(t, 404)

	// Only the author edits or deletes.
	call(t, "PUT", "/api/articles/"+url.PathEscape(slug), "", map[string]any{"article": map[string]any{"body": "x"}}).expect(t, 401)
	call(t, "PUT", "/api/articles/"+url.PathEscape(slug), other.Token, map[string]any{"article": map[string]any{"body": "x"}}).expect(t, 403)
	call(t, "DELETE", "/api/articles/"+url.PathEscape(slug), other.Token, nil).expect(t, 403)
	call(t, "PUT", "/api/articles/"+url.PathEscape(slug), author.Token, map[string]any{"article": map[string]any{"title": "  "}}).expect(t, 422)

	// A new title moves the slug; the old one is gone.
	time.Sleep(5 * time.Millisecond)
	upd := call(t, "PUT", "/api/articles/"+url.PathEscape(slug), author.Token, map[string]any{"article": map[string]any{"title": "A whole new title"}}).expect(t, 200).obj("article")
	newSlug := upd["slug"].(string)
	require.NotEqual(t, slug, newSlug)
	require.True(t, strings.HasPrefix(newSlug, "a-whole-new-title"), newSlug)
	require.Equal(t, a["body"], upd["body"], "fields not sent are kept")
	require.NotEqual(t, upd["createdAt"], upd["updatedAt"])
	call(t, "GET", "/api/articles/"+url.PathEscape(slug), "", nil).expect(t, 404)

	r = call(t, "DELETE", "/api/articles/"+newSlug, author.Token, nil)
	require.Equal(t, 204, r.Status, "body: %s", r.Raw)
	call(t, "GET", "/api/articles/"+newSlug, "", nil).expect(t, 404)
	call(t, "DELETE", "/api/articles/"+newSlug, author.Token, nil).expect(t, 404)
}

func TestListOrderingCountsAndPagination(t *testing.T) {
	t.Parallel()
	u := register(t)
	tag := unique("tag")
	var slugs []string
	for i := range 5 {
		a := createArticle(t, u, map[string]any{"title": fmt.Sprintf("Ordered %d %s", i, tag), "tagList": []string{tag}})
		slugs = append(slugs, a["slug"].(string))
		time.Sleep(3 * time.Millisecond)
	}
	r := call(t, "GET", "/api/articles?tag="+tag+"&limit=2", "", nil).expect(t, 200)
	require.Equal(t, float64(5), r.JSON["articlesCount"], "articlesCount is the total, not the page size")
	page := r.list("articles")
	require.Len(t, page, 2)
	require.Equal(t, slugs[4], page[0]["slug"], "newest first")
	require.Equal(t, slugs[3], page[1]["slug"])
	for _, a := range page {
		require.NotContains(t, a, "body", "list items carry no body")
	}

	r = call(t, "GET", "/api/articles?tag="+tag+"&limit=2&offset=4", "", nil).expect(t, 200)
	require.Len(t, r.list("articles"), 1)
	require.Equal(t, slugs[0], r.list("articles")[0]["slug"])
	r = call(t, "GET", "/api/articles?tag="+tag+"&offset=50", "", nil).expect(t, 200)
	require.Empty(t, r.list("articles"))
	require.Equal(t, float64(5), r.JSON["articlesCount"])

	r = call(t, "GET", "/api/articles?author="+u.Username, "", nil).expect(t, 200)
	require.Equal(t, float64(5), r.JSON["articlesCount"])
	r = call(t, "GET", "/api/articles?author="+unique("ghost"), "", nil).expect(t, 200)
	require.Equal(t, float64(0), r.JSON["articlesCount"])
	require.NotNil(t, r.JSON["articles"], "an empty list is [], not null")

	for _, q := range []string{"limit=-1", "limit=abc", "limit=100000", "offset=-5", "offset=1.5", "limit=1e3"} {
		r := call(t, "GET", "/api/articles?"+q, "", nil)
		require.Equal(t, 422, r.Status, "%s: %s", q, r.Raw)
		r.expect(t, 422)
	}
}

func TestFavoritesAndFilters(t *testing.T) {
	t.Parallel()
	author, fan := register(t), register(t)
	a := createArticle(t, author, nil)
	slug := a["slug"].(string)

	call(t, "POST", "/api/articles/"+slug+"/favorite", "", nil).expect(t, 401)
	call(t, "POST", "/api/articles/"+unique("missing")+"/favorite", fan.Token, nil).expect(t, 404)
	for range 2 {
		r := call(t, "POST", "/api/articles/"+slug+"/favorite", fan.Token, nil).expect(t, 200).obj("article")
		require.Equal(t, true, r["favorited"])
		require.Equal(t, float64(1), r["favoritesCount"], "favoriting twice counts once")
	}
	r := call(t, "GET", "/api/articles?favorited="+fan.Username, fan.Token, nil).expect(t, 200)
	require.Equal(t, float64(1), r.JSON["articlesCount"])
	require.Equal(t, true, r.list("articles")[0]["favorited"])
	r = call(t, "GET", "/api/articles/"+slug, author.Token, nil).expect(t, 200)
	require.Equal(t, false, r.obj("article")["favorited"], "favorited is per viewer")
	require.Equal(t, float64(1), r.obj("article")["favoritesCount"])

	for range 2 {
		r := call(t, "DELETE", "/api/articles/"+slug+"/favorite", fan.Token, nil).expect(t, 200).obj("article")
		require.Equal(t, false, r["favorited"])
		require.Equal(t, float64(0), r["favoritesCount"])
	}
	r = call(t, "GET", "/api/articles?favorited="+fan.Username, fan.Token, nil).expect(t, 200)
	require.Equal(t, float64(0), r.JSON["articlesCount"], "the writer sees their unfavorite at once")
	withinStaleness(t, "the unfavorite to reach anonymous lists", func() bool {
		r := call(t, "GET", "/api/articles?favorited="+fan.Username, "", nil)
		return r.Status == 200 && r.JSON["articlesCount"] == float64(0)
	})
}

func TestFeedFollowsAuthors(t *testing.T) {
	t.Parallel()
	reader, followed, stranger := register(t), register(t), register(t)
	call(t, "GET", "/api/articles/feed", "", nil).expect(t, 401)
	call(t, "POST", "/api/profiles/"+followed.Username+"/follow", reader.Token, nil).expect(t, 200)
	mine := createArticle(t, followed, nil)
	createArticle(t, stranger, nil)

	// Follows reach the blog as events: allow the read model a moment.
	require.Eventually(t, func() bool {
		r := call(t, "GET", "/api/articles/feed", reader.Token, nil)
		return r.Status == 200 && r.JSON["articlesCount"] == float64(1) && len(r.list("articles")) == 1 &&
			r.list("articles")[0]["slug"] == mine["slug"]
	}, 10*time.Second, 50*time.Millisecond)
	r := call(t, "GET", "/api/articles/feed", reader.Token, nil).expect(t, 200)
	require.Equal(t, true, r.list("articles")[0]["author"].(map[string]any)["following"])
	require.NotContains(t, r.list("articles")[0], "body")
	call(t, "GET", "/api/articles/feed?limit=0x10", reader.Token, nil).expect(t, 422)
}

func TestComments(t *testing.T) {
	t.Parallel()
	author, commenter := register(t), register(t)
	slug := createArticle(t, author, nil)["slug"].(string)
	call(t, "POST", "/api/articles/"+slug+"/comments", "", map[string]any{"comment": map[string]any{"body": "hi"}}).expect(t, 401)
	call(t, "POST", "/api/articles/"+slug+"/comments", commenter.Token, map[string]any{"comment": map[string]any{"body": " "}}).expect(t, 422)
	call(t, "POST", "/api/articles/"+slug+"/comments", commenter.Token, map[string]any{}).expect(t, 422)
	call(t, "POST", "/api/articles/"+unique("missing")+"/comments", commenter.Token, map[string]any{"comment": map[string]any{"body": "hi"}}).expect(t, 404)

	r := call(t, "POST", "/api/articles/"+slug+"/comments", commenter.Token, map[string]any{"comment": map[string]any{"body": "first"}})
	require.Contains(t, []int{200, 201}, r.Status, "body: %s", r.Raw)
	c := r.obj("comment")
	require.Equal(t, "first", c["body"])
	require.Regexp(t, timestamp, c["createdAt"])
	id := fmt.Sprint(c["id"])

	list := call(t, "GET", "/api/articles/"+slug+"/comments", "", nil).expect(t, 200).list("comments")
	require.Len(t, list, 1)
	call(t, "GET", "/api/articles/"+unique("missing")+"/comments", "", nil).expect(t, 404)

	call(t, "DELETE", "/api/articles/"+slug+"/comments/"+id, author.Token, nil).expect(t, 403)
	call(t, "DELETE", "/api/articles/"+slug+"/comments/999999999", commenter.Token, nil).expect(t, 404)
	call(t, "DELETE", "/api/articles/"+slug+"/comments/abc", commenter.Token, nil).expect(t, 404)
	other := createArticle(t, author, nil)["slug"].(string)
	call(t, "DELETE", "/api/articles/"+other+"/comments/"+id, commenter.Token, nil).expect(t, 404)
	r = call(t, "DELETE", "/api/articles/"+slug+"/comments/"+id, commenter.Token, nil)
	require.Equal(t, 204, r.Status, "body: %s", r.Raw)
	require.Empty(t, call(t, "GET", "/api/articles/"+slug+"/comments", "", nil).expect(t, 200).list("comments"))
}

func TestTagsCategoriesAndSearch(t *testing.T) {
	t.Parallel()
	u := register(t)
	tag := unique("t")
	word := unique("zebra")
	createArticle(t, u, map[string]any{"tagList": []string{tag}, "category": "technology", "body": "all about the " + word + " and more"})

	tags := call(t, "GET", "/api/tags", u.Token, nil).expect(t, 200).JSON["tags"].([]any)
	require.Contains(t, tags, tag, "the writer sees their tag at once")
	withinStaleness(t, "the tag to reach anonymous readers", func() bool {
		r := call(t, "GET", "/api/tags", "", nil)
		tags, _ := r.JSON["tags"].([]any)
		return r.Status == 200 && slices.Contains(tags, any(tag))
	})

	cats := call(t, "GET", "/api/categories", u.Token, nil).expect(t, 200).list("categories")
	require.NotEmpty(t, cats)
	found := false
	for _, c := range cats {
		require.Regexp(t, `^#[0-9a-fA-F]{6}$`, c["color"])
		if c["slug"] == "technology" {
			found = true
			require.GreaterOrEqual(t, c["articlesCount"], float64(1))
		}
	}
	require.True(t, found)
	r := call(t, "GET", "/api/articles?category=technology&author="+u.Username, "", nil).expect(t, 200)
	require.Equal(t, float64(1), r.JSON["articlesCount"])
	require.Equal(t, "technology", r.list("articles")[0]["category"])
	call(t, "POST", "/api/articles", u.Token, map[string]any{"article": map[string]any{"title": "t", "description": "d", "body": "b", "category": "no-such-category"}}).expect(t, 422)

	r = call(t, "GET", "/api/articles?q="+word, "", nil).expect(t, 200)
	require.Equal(t, float64(1), r.JSON["articlesCount"])
	for _, q := range []string{`"`, `*`, `a OR`, `(`, `NEAR(`, `'; DROP TABLE articles; --`, `ü`, strings.Repeat("x ", 200)} {
		r := call(t, "GET", "/api/articles?q="+url.QueryEscape(q), "", nil)
		require.Contains(t, []int{200, 422}, r.Status, "q=%q: %s", q, r.Raw)
	}
}
