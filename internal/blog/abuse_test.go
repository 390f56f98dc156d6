package blog_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tungsten-blog/tungsten/internal/blog"
)

// One account must not be able to write without bound: articles and
// comments share a per-user budget; other users keep theirs.
func TestAbuse_Costs_WritesArePerUserLimited(t *testing.T) {
	t.Parallel()
	ts := newTestService(t, func(c *blog.Config, _ *blog.Deps) { c.WriteLimit = 3 })
	ts.users.add(1, "jake", "", 1)
	ts.users.add(2, "anna", "", 1)
	jake, anna := ts.tokens.user(t, 1, "jake"), ts.tokens.user(t, 2, "anna")
	slug := ts.create(jake, "Spam target") // write 1
	comment := map[string]any{"comment": map[string]any{"body": "spam"}}
	ts.do("POST", "/api/articles/"+slug+"/comments", jake, comment).want(t, http.StatusOK) // 2
	ts.do("POST", "/api/articles/"+slug+"/comments", jake, comment).want(t, http.StatusOK) // 3
	r := ts.do("POST", "/api/articles/"+slug+"/comments", jake, comment)
	r.wantError(t, http.StatusTooManyRequests, "too many requests")
	require.NotEmpty(t, r.header.Get("Retry-After"))
	ts.do("POST", "/api/articles", jake, newArticle("One more")).want(t, http.StatusTooManyRequests)
	ts.do("POST", "/api/articles/"+slug+"/comments", anna, comment).want(t, http.StatusOK)
}

// Favorites are writes too (each one a row and an outbox event): one account
// may add or take back only so many per window, in a budget of their own;
// other users keep theirs.
func TestAbuse_Costs_FavoritesArePerUserLimited(t *testing.T) {
	t.Parallel()
	ts := newTestService(t, func(c *blog.Config, _ *blog.Deps) { c.FavoriteLimit = 3 })
	ts.users.add(1, "jake", "", 1)
	ts.users.add(2, "anna", "", 1)
	jake, anna := ts.tokens.user(t, 1, "jake"), ts.tokens.user(t, 2, "anna")
	slug := ts.create(anna, "Favorite target")
	fav := "/api/articles/" + slug + "/favorite"
	ts.do("POST", fav, jake, nil).want(t, http.StatusOK)   // 1
	ts.do("DELETE", fav, jake, nil).want(t, http.StatusOK) // 2
	ts.do("POST", fav, jake, nil).want(t, http.StatusOK)   // 3
	for _, method := range []string{"DELETE", "POST"} {
		r := ts.do(method, fav, jake, nil)
		r.wantError(t, http.StatusTooManyRequests, "too many requests")
		require.NotEmpty(t, r.header.Get("Retry-After"))
	}
	got := ts.do("GET", "/api/articles/"+slug, jake, nil).want(t, http.StatusOK).article()
	require.Equal(t, true, got["favorited"], "the refused unfavorite changed nothing")
	ts.do("POST", "/api/articles/"+slug+"/comments", jake, map[string]any{"comment": map[string]any{"body": "still allowed"}}).
		want(t, http.StatusOK) // writes have their own budget
	ts.do("POST", fav, anna, nil).want(t, http.StatusOK)
}
