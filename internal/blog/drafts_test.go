package blog_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tungsten-blog/tungsten/internal/blog/domain"
	"github.com/tungsten-blog/tungsten/internal/platform/cache"
	"github.com/tungsten-blog/tungsten/internal/platform/database"
)

// TestDrafts proves through the API that a draft is its author's alone,
// on both engines and with each cache: in no list, feed, search, tag list,
// category count or profile list, 404 for others, shown through its
// preview link only, and that publishing and unpublishing reach every
// cached read at once.
func TestDrafts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		dialect database.Dialect
		redis   bool
		memory  bool
	}{
		{name: "sqlite", dialect: database.SQLite},
		{name: "sqlite+memory-cache", dialect: database.SQLite, memory: true},
		{name: "postgres+redis", dialect: database.Postgres, redis: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := []option{withStaleness(0)}
			if tc.memory {
				opts = append(opts, withCache(cache.NewMemory(1000, nil)))
			}
			if tc.redis {
				c, _, _ := newRedisCache(t, "test-blog-drafts-")
				opts = append(opts, withCache(c))
			}
			checkDrafts(t, newTestServiceOn(t, tc.dialect, opts...))
		})
	}
}

func checkDrafts(t *testing.T, ts *testService) {
	jake := ts.tokens.user(t, 1, "jake")
	bob := ts.tokens.user(t, 2, "bob")
	// Follows reach the blog as events; the read model is fed directly here.
	_, err := ts.svc.Store().ApplyFollowTx(t.Context(), ts.db, domain.Follow{FollowerID: 2, FolloweeID: 1, Following: true, At: 10})
	require.NoError(t, err)
	ts.create(jake, "Published one", "public")

	// Every read others make, warmed so that a cache holds each of them.
	reads := map[string]string{
		"list":       "/api/articles",
		"tag":        q("/api/articles", "tag", "secret"),
		"author":     q("/api/articles", "author", "jake"),
		"category":   q("/api/articles", "category", "science"),
		"search":     q("/api/articles", "q", "aardvark"),
		"favorited":  q("/api/articles", "favorited", "jake"),
		"feed (bob)": "/api/articles/feed",
	}
	viewers := func(read string) []string {
		if read == "feed (bob)" {
			return []string{bob}
		}
		return []string{"", bob, jake} // the author too: drafts are in none of their lists either
	}
	slugsFor := func(path, token string) []string {
		t.Helper()
		return slugsOf(ts.do("GET", path, token, nil).want(t, http.StatusOK).articles())
	}
	tagsAndCount := func() ([]any, float64) {
		t.Helper()
		tags, _ := ts.do("GET", "/api/tags", "", nil).want(t, http.StatusOK).body["tags"].([]any)
		var science float64
		for _, c := range ts.do("GET", "/api/categories", "", nil).want(t, http.StatusOK).body["categories"].([]any) {
			if m := c.(map[string]any); m["slug"] == "science" {
				science = m["articlesCount"].(float64)
			}
		}
		return tags, science
	}
	hidden := func(when, slug string) {
		t.Helper()
		for name, path := range reads {
			for _, tok := range viewers(name) {
				require.NotContains(t, slugsFor(path, tok), slug, "%s: %s", when, name)
			}
		}
		tags, science := tagsAndCount()
		require.NotContains(t, tags, "secret", when+": tags")
		require.Zero(t, science, when+": category count")
		for _, tok := range []string{"", bob} {
			ts.do("GET", "/api/articles/"+slug, tok, nil).want(t, http.StatusNotFound)
			ts.do("GET", "/api/articles/"+slug+"/comments", tok, nil).want(t, http.StatusNotFound)
		}
		ts.do("POST", "/api/articles/"+slug+"/favorite", bob, nil).want(t, http.StatusNotFound)
		ts.do("POST", "/api/articles/"+slug+"/comments", bob, map[string]any{"comment": map[string]any{"body": "hi"}}).
			want(t, http.StatusNotFound)
		ts.do("PUT", "/api/articles/"+slug, bob, map[string]any{"article": map[string]any{"title": "mine"}}).
			want(t, http.StatusNotFound)
		ts.do("DELETE", "/api/articles/"+slug, bob, nil).want(t, http.StatusNotFound)
		ts.do("POST", "/api/articles/"+slug+"/preview", bob, nil).want(t, http.StatusNotFound)
	}
	for name, path := range reads {
		for _, tok := range viewers(name) {
			slugsFor(path, tok)
		}
	}
	tagsAndCount()

	draft := map[string]any{"article": map[string]any{"title": "Aardvark notes", "description": "d",
		"body": "All about the aardvark.", "tagList": []string{"secret"}, "category": "science", "draft": true}}
	created := ts.do("POST", "/api/articles", jake, draft).want(t, http.StatusCreated).article()
	slug := created["slug"].(string)
	require.Equal(t, true, created["draft"], "the author's view says draft")
	token, _ := created["previewToken"].(string)
	require.Len(t, token, 26, "the author's view carries the preview token")
	ts.do("POST", "/api/articles/"+slug+"/favorite", jake, nil).want(t, http.StatusOK) // for the favorited list
	hidden("draft", slug)

	own := ts.do("GET", "/api/articles/"+slug, jake, nil).want(t, http.StatusOK).article()
	require.Equal(t, true, own["draft"])
	require.Equal(t, token, own["previewToken"])
	require.Equal(t, []string{slug}, slugsFor(q("/api/articles", "drafts", "true"), jake), "the author's drafts")
	require.Empty(t, slugsFor(q("/api/articles", "drafts", "true"), bob), "bob has none")
	ts.do("GET", q("/api/articles", "drafts", "true"), "", nil).want(t, http.StatusUnauthorized)
	ts.do("GET", q("/api/articles", "drafts", "yes"), jake, nil).want(t, http.StatusUnprocessableEntity)

	// The preview link shows the draft to anyone, without the token.
	for _, tok := range []string{"", bob} {
		r := ts.do("GET", "/api/previews/"+token, tok, nil).want(t, http.StatusOK)
		require.Equal(t, "noindex", r.header.Get("X-Robots-Tag"))
		require.Equal(t, slug, r.article()["slug"])
		require.Equal(t, true, r.article()["draft"])
		require.NotContains(t, r.article(), "previewToken", "only the author sees the token")
	}
	ts.do("GET", "/api/previews/not-a-token", "", nil).want(t, http.StatusNotFound)
	renewed := ts.do("POST", "/api/articles/"+slug+"/preview", jake, nil).want(t, http.StatusOK).article()["previewToken"].(string)
	require.NotEqual(t, token, renewed)
	ts.do("GET", "/api/previews/"+token, "", nil).want(t, http.StatusNotFound) // revoked
	ts.do("GET", "/api/previews/"+renewed, "", nil).want(t, http.StatusOK)

	// Publishing: every cached read shows it at once, the link dies.
	pub := ts.do("PUT", "/api/articles/"+slug, jake, map[string]any{"article": map[string]any{"draft": false}}).
		want(t, http.StatusOK).article()
	require.NotContains(t, pub, "draft", "a published article carries no draft field")
	require.NotContains(t, pub, "previewToken")
	for name, path := range reads {
		require.Contains(t, slugsFor(path, bob), slug, "published: %s", name)
	}
	require.Equal(t, slug, slugsFor("/api/articles", "")[0], "newest first")
	tags, science := tagsAndCount()
	require.Contains(t, tags, "secret")
	require.Equal(t, 1.0, science)
	ts.do("GET", "/api/articles/"+slug, bob, nil).want(t, http.StatusOK)
	ts.do("GET", "/api/articles/"+slug, "", nil).want(t, http.StatusOK) // cached for everyone now
	ts.do("GET", "/api/previews/"+renewed, "", nil).want(t, http.StatusNotFound)
	ts.do("POST", "/api/articles/"+slug+"/preview", jake, nil).want(t, http.StatusUnprocessableEntity)
	require.Empty(t, slugsFor(q("/api/articles", "drafts", "true"), jake))

	// Back to draft: gone from every cached read at once, a new link.
	back := ts.do("PUT", "/api/articles/"+slug, jake, map[string]any{"article": map[string]any{"draft": true}}).
		want(t, http.StatusOK).article()
	require.Equal(t, true, back["draft"])
	again := back["previewToken"].(string)
	require.NotEqual(t, renewed, again)
	hidden("unpublished", slug)
	ts.do("GET", "/api/previews/"+again, "", nil).want(t, http.StatusOK)
}
