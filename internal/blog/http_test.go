package blog_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tungsten-blog/tungsten/internal/blog/domain"
)

func TestArticleLifecycle(t *testing.T) {
	t.Parallel()
	ts := newTestService(t)
	ts.users.add(1, "jake", "I work at statefarm", 1000)
	jake := ts.tokens.user(t, 1, "jake")

	r := ts.do("POST", "/api/articles", jake, newArticle("How to train your dragon", " training ", "dragons", "training")).
		want(t, http.StatusCreated)
	a := r.article()
	require.Equal(t, "how-to-train-your-dragon", a["slug"], "created %v", a)
	require.Equal(t, "How to train your dragon", a["title"])
	require.Equal(t, "About How to train your dragon", a["description"])
	require.Equal(t, "Body of How to train your dragon", a["body"])
	require.Equal(t, "[dragons training]", fmt.Sprint(a["tagList"]))
	require.Equal(t, false, a["favorited"])
	require.Equal(t, 0.0, a["favoritesCount"])
	require.Contains(t, a, "category", "category field missing")
	require.Nil(t, a["category"])
	for _, f := range []string{"createdAt", "updatedAt"} {
		require.Regexp(t, isoMillis, a[f], "%s: want ISO 8601 with milliseconds", f)
	}
	author := a["author"].(map[string]any)
	require.Equal(t, "jake", author["username"], "author %v", author)
	require.Equal(t, "I work at statefarm", author["bio"])
	require.Equal(t, false, author["following"])
	require.Equal(t, "application/json; charset=utf-8", r.header.Get("Content-Type"))

	got := ts.do("GET", "/api/articles/how-to-train-your-dragon", "", nil).want(t, http.StatusOK).article()
	require.Equal(t, a["body"], got["body"], "get %v", got)
	require.Equal(t, a["createdAt"], got["createdAt"], "get %v", got)

	list := ts.do("GET", "/api/articles", "", nil).want(t, http.StatusOK)
	require.Equal(t, 1, list.count(), "list %s", list.raw)
	require.Len(t, list.articles(), 1, "list %s", list.raw)
	require.NotContains(t, list.articles()[0], "body", "list items must not carry body")

	// A new title moves the article to a new slug; the old one is gone.
	upd := ts.do("PUT", "/api/articles/how-to-train-your-dragon", jake,
		map[string]any{"article": map[string]any{"title": "Did you train your dragon?", "category": "science"}}).
		want(t, http.StatusOK).article()
	require.Equal(t, "did-you-train-your-dragon", upd["slug"], "updated %v", upd)
	require.Equal(t, a["body"], upd["body"])
	require.Equal(t, "science", upd["category"])
	require.Equal(t, a["createdAt"], upd["createdAt"])
	require.Equal(t, "[dragons training]", fmt.Sprint(upd["tagList"]))
	ts.do("GET", "/api/articles/how-to-train-your-dragon", "", nil).wantError(t, http.StatusNotFound, "article not found")
	ts.do("GET", "/api/articles/did-you-train-your-dragon", "", nil).want(t, http.StatusOK)

	// Body-only update keeps the slug; null category clears it.
	upd = ts.do("PUT", "/api/articles/did-you-train-your-dragon", jake,
		map[string]any{"article": map[string]any{"body": "With two hands", "category": nil, "tagList": []string{}}}).
		want(t, http.StatusOK).article()
	require.Equal(t, "did-you-train-your-dragon", upd["slug"], "updated %v", upd)
	require.Equal(t, "With two hands", upd["body"])
	require.Nil(t, upd["category"])
	require.Empty(t, upd["tagList"].([]any))

	r = ts.do("DELETE", "/api/articles/did-you-train-your-dragon", jake, nil).want(t, http.StatusNoContent)
	require.Empty(t, r.raw, "204 with a body")
	ts.do("GET", "/api/articles/did-you-train-your-dragon", "", nil).wantError(t, http.StatusNotFound, "article not found")
	list = ts.do("GET", "/api/articles", "", nil)
	require.Zero(t, list.count(), "list after delete %s", list.raw)
	require.Empty(t, list.articles(), "list after delete %s", list.raw)
}

func TestUnicodeAndReservedSlugs(t *testing.T) {
	t.Parallel()
	ts := newTestService(t)
	tok := ts.tokens.user(t, 1, "jake")
	slug := ts.create(tok, "Über München — 東京")
	require.Equal(t, "über-münchen-東京", slug)
	ts.do("GET", "/api/articles/"+slug, "", nil).want(t, http.StatusOK)
	ts.do("GET", "/api/articles/%C3%BCber-m%C3%BCnchen-%E6%9D%B1%E4%BA%AC", "", nil).want(t, http.StatusOK)
	feed := ts.create(tok, "Feed")
	require.True(t, strings.HasPrefix(feed, "feed-"), "an article slugged %q would hide behind /api/articles/feed", feed)
	ts.do("GET", "/api/articles/"+feed, "", nil).want(t, http.StatusOK)
	again := ts.create(tok, "Über München — 東京")
	require.True(t, strings.HasPrefix(again, slug+"-"), "duplicate title slug %q", again)
	// Bytes no stored slug can hold are simply not found.
	ts.do("GET", "/api/articles/%FF%FE", "", nil).wantError(t, http.StatusNotFound, "article not found")
	ts.do("GET", "/api/articles/a%00b", "", nil).wantError(t, http.StatusNotFound, "article not found")
}

func TestAuthorizationErrors(t *testing.T) {
	t.Parallel()
	ts := newTestService(t)
	jake := ts.tokens.user(t, 1, "jake")
	bob := ts.tokens.user(t, 2, "bob")
	slug := ts.create(jake, "Jake's article")
	other := ts.create(jake, "Another article")
	comment := ts.do("POST", "/api/articles/"+slug+"/comments", jake, map[string]any{"comment": map[string]any{"body": "mine"}}).
		want(t, http.StatusOK).body["comment"].(map[string]any)
	cid := fmt.Sprint(comment["id"])

	for _, tt := range []struct{ method, path string }{
		{"POST", "/api/articles"},
		{"GET", "/api/articles/feed"},
		{"PUT", "/api/articles/" + slug},
		{"DELETE", "/api/articles/" + slug},
		{"POST", "/api/articles/" + slug + "/favorite"},
		{"DELETE", "/api/articles/" + slug + "/favorite"},
		{"POST", "/api/articles/" + slug + "/comments"},
		{"DELETE", "/api/articles/" + slug + "/comments/" + cid},
	} {
		r := ts.do(tt.method, tt.path, "", `{"article":{"title":"x"},"comment":{"body":"x"}}`)
		r.wantError(t, http.StatusUnauthorized, "authentication required")
		assert.NotEmpty(t, r.header.Get("WWW-Authenticate"), "%s %s: no WWW-Authenticate", tt.method, tt.path)
	}
	ts.do("GET", "/api/articles", "not-a-jwt", nil).wantError(t, http.StatusUnauthorized, "token is invalid or expired")
	forged := newTokens(t).user(t, 1, "jake") // signed by a key the service does not know... with the same kid
	ts.do("GET", "/api/articles", forged, nil).wantError(t, http.StatusUnauthorized, "token is invalid or expired")

	ts.do("PUT", "/api/articles/"+slug, bob, map[string]any{"article": map[string]any{"title": "Mine now"}}).
		wantError(t, http.StatusForbidden, "only the author may update this article")
	ts.do("DELETE", "/api/articles/"+slug, bob, nil).
		wantError(t, http.StatusForbidden, "only the author may delete this article")
	ts.do("DELETE", "/api/articles/"+slug+"/comments/"+cid, bob, nil).
		wantError(t, http.StatusForbidden, "only the author may delete this comment")

	for _, tt := range []struct{ method, path, token string }{
		{"GET", "/api/articles/missing", ""},
		{"PUT", "/api/articles/missing", jake},
		{"DELETE", "/api/articles/missing", jake},
		{"POST", "/api/articles/missing/favorite", jake},
		{"DELETE", "/api/articles/missing/favorite", jake},
		{"GET", "/api/articles/missing/comments", ""},
		{"POST", "/api/articles/missing/comments", jake},
		{"DELETE", "/api/articles/missing/comments/" + cid, jake},
	} {
		ts.do(tt.method, tt.path, tt.token, `{"article":{"title":"x"},"comment":{"body":"x"}}`).
			wantError(t, http.StatusNotFound, "article not found")
	}
	for _, id := range []string{"999999", "abc", "-1", "0", "1.5"} {
		ts.do("DELETE", "/api/articles/"+slug+"/comments/"+id, jake, nil).wantError(t, http.StatusNotFound, "comment not found")
	}
	// A comment of another article is not found there.
	ts.do("DELETE", "/api/articles/"+other+"/comments/"+cid, jake, nil).wantError(t, http.StatusNotFound, "comment not found")

	// Nothing changed.
	a := ts.do("GET", "/api/articles/"+slug, "", nil).want(t, http.StatusOK).article()
	require.Equal(t, "Jake's article", a["title"], "article changed: %v", a)
	ts.do("DELETE", "/api/articles/"+slug+"/comments/"+cid, jake, nil).want(t, http.StatusNoContent)
	ts.do("DELETE", "/api/articles/"+slug+"/comments/"+cid, jake, nil).wantError(t, http.StatusNotFound, "comment not found")
}

func TestValidation(t *testing.T) {
	t.Parallel()
	ts := newTestService(t)
	tok := ts.tokens.user(t, 1, "jake")
	slug := ts.create(tok, "Valid")
	long := func(n int) string { return strings.Repeat("é", n) }
	manyTags := make([]string, 21)
	for i := range manyTags {
		manyTags[i] = fmt.Sprint("t", i)
	}
	for _, tt := range []struct {
		name   string
		body   any
		status int
		msgs   []string
	}{
		{"all blank", `{"article":{"title":" ","description":"","body":""}}`, 422,
			[]string{"title can't be blank", "description can't be blank", "body can't be blank"}},
		{"fields missing", `{"article":{}}`, 422,
			[]string{"title can't be blank", "description can't be blank", "body can't be blank"}},
		{"no wrapper", `{"title":"x","description":"y","body":"z"}`, 422, []string{`article is required ({"article":{...}})`}},
		{"null wrapper", `{"article":null}`, 422, []string{`article is required ({"article":{...}})`}},
		{"malformed", `{"article":`, 422, []string{"body is not valid JSON"}},
		{"empty body", ``, 422, []string{"body can't be empty"}},
		{"trailing data", `{"article":{}} {}`, 422, []string{"body must hold a single JSON object"}},
		{"wrong type", `{"article":{"title":5}}`, 422, []string{"article.title must be a string"}},
		{"tags not strings", `{"article":{"title":"t","description":"d","body":"b","tagList":[1]}}`, 422,
			[]string{"article.tagList must be a string"}},
		{"category wrong type", `{"article":{"title":"t","description":"d","body":"b","category":7}}`, 422,
			[]string{"category must be a string or null"}},
		{"unknown category", map[string]any{"article": map[string]any{"title": "t", "description": "d", "body": "b", "category": "nope"}}, 422,
			[]string{"category is unknown"}},
		{"too long", map[string]any{"article": map[string]any{"title": long(201), "description": long(1001), "body": long(100001)}}, 422,
			[]string{"title is too long (maximum is 200 characters)", "description is too long (maximum is 1000 characters)",
				"body is too long (maximum is 100000 characters)"}},
		{"too many tags", map[string]any{"article": map[string]any{"title": "t", "description": "d", "body": "b", "tagList": manyTags}}, 422,
			[]string{"tagList has too many tags (maximum is 20)"}},
		{"tag too long", map[string]any{"article": map[string]any{"title": "t", "description": "d", "body": "b", "tagList": []string{strings.Repeat("x", 51)}}}, 422,
			[]string{`tag "xxxxxxxxxxxxxxxxxxxx…" is too long (maximum is 50 characters)`}},
		{"NUL", `{"article":{"title":"a\u0000b","description":"d","body":"b"}}`, 422, []string{"title can't contain NUL characters"}},
		{"oversized", `{"article":{"title":"t","description":"d","body":"` + strings.Repeat("x", 3<<20) + `"}}`, 413,
			[]string{"request body is larger than 2097152 bytes"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ts.do("POST", "/api/articles", tok, tt.body).wantError(t, tt.status, tt.msgs...)
		})
	}
	// Within limits (runes, not bytes) is fine.
	ts.do("POST", "/api/articles", tok, map[string]any{"article": map[string]any{"title": long(200), "description": long(1000),
		"body": long(100000), "tagList": manyTags[:20], "category": "food"}}).want(t, http.StatusCreated)

	// Updates validate what they change.
	ts.do("PUT", "/api/articles/"+slug, tok, `{"article":{"title":""}}`).wantError(t, 422, "title can't be blank")
	ts.do("PUT", "/api/articles/"+slug, tok, `{"title":"x"}`).wantError(t, 422, `article is required ({"article":{...}})`)
	ts.do("PUT", "/api/articles/"+slug, tok, `{"article":{"category":"nope"}}`).wantError(t, 422, "category is unknown")

	// Wrong content type.
	req := httptest.NewRequest("POST", "/api/articles", strings.NewReader(`{"article":{}}`))
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("Authorization", "Token "+tok)
	rec := httptest.NewRecorder()
	ts.h.ServeHTTP(rec, req)
	require.Equal(t, 422, rec.Code, "text/plain body: %s", rec.Body)
	require.Contains(t, rec.Body.String(), "body must be JSON")
	// Comments.
	for _, tt := range []struct {
		body string
		msgs []string
	}{
		{`{"comment":{"body":"  "}}`, []string{"body can't be blank"}},
		{`{"comment":{}}`, []string{"body can't be blank"}},
		{`{"body":"x"}`, []string{`comment is required ({"comment":{"body":"..."}})`}},
		{`{"comment":{"body":"` + strings.Repeat("x", 10001) + `"}}`, []string{"body is too long (maximum is 10000 characters)"}},
		{`nope`, []string{"body is not valid JSON"}},
	} {
		ts.do("POST", "/api/articles/"+slug+"/comments", tok, tt.body).wantError(t, 422, tt.msgs...)
	}
}

func TestListParameters(t *testing.T) {
	t.Parallel()
	ts := newTestService(t)
	tok := ts.tokens.user(t, 1, "jake")
	var newestFirst []string
	for i := range 25 {
		newestFirst = append([]string{ts.create(tok, fmt.Sprint("Post ", i))}, newestFirst...)
	}
	r := ts.do("GET", "/api/articles", "", nil).want(t, http.StatusOK)
	require.Equal(t, 25, r.count(), "default page")
	require.Equal(t, newestFirst[:20], slugsOf(r.articles()), "default page")
	r = ts.do("GET", q("/api/articles", "limit", "10", "offset", "20"), "", nil).want(t, http.StatusOK)
	require.Equal(t, 25, r.count(), "last page")
	require.Equal(t, newestFirst[20:], slugsOf(r.articles()), "last page")
	r = ts.do("GET", q("/api/articles", "limit", "100", "offset", "1000"), "", nil).want(t, http.StatusOK)
	require.Equal(t, 25, r.count(), "past the end: %s", r.raw)
	require.NotNil(t, r.body["articles"], "past the end: %s", r.raw)
	require.Empty(t, r.articles(), "past the end: %s", r.raw)
	r = ts.do("GET", q("/api/articles", "limit", "", "offset", ""), "", nil).want(t, http.StatusOK)
	require.Len(t, r.articles(), 20, "empty params")
	limitMsg := "limit must be an integer from 1 to 100"
	offsetMsg := "offset must be a non-negative integer"
	for _, tt := range []struct {
		params []string
		msgs   []string
	}{
		{[]string{"limit", "abc"}, []string{limitMsg}},
		{[]string{"limit", "-1"}, []string{limitMsg}},
		{[]string{"limit", "0"}, []string{limitMsg}},
		{[]string{"limit", "101"}, []string{limitMsg}},
		{[]string{"limit", "1.5"}, []string{limitMsg}},
		{[]string{"limit", "99999999999999999999999"}, []string{limitMsg}},
		{[]string{"offset", "-1"}, []string{offsetMsg}},
		{[]string{"offset", "x"}, []string{offsetMsg}},
		{[]string{"offset", "99999999999999999999999"}, []string{offsetMsg}},
		{[]string{"limit", "x", "offset", "y"}, []string{limitMsg, offsetMsg}},
	} {
		ts.do("GET", q("/api/articles", tt.params...), "", nil).wantError(t, 422, tt.msgs...)
		ts.do("GET", q("/api/articles/feed", tt.params...), tok, nil).wantError(t, 422, tt.msgs...)
	}
	ts.do("GET", q("/api/articles", "q", strings.Repeat("é", 201)), "", nil).
		wantError(t, 422, "q is too long (maximum is 200 characters)")
}

func TestFiltersAndSearch(t *testing.T) {
	t.Parallel()
	ts := newTestService(t)
	ts.users.add(1, "Jake", "", 1)
	ts.users.add(2, "bob", "", 1)
	jake, bob := ts.tokens.user(t, 1, "Jake"), ts.tokens.user(t, 2, "bob")
	ts.do("POST", "/api/articles", jake, map[string]any{"article": map[string]any{"title": "Dragons of Tokyo",
		"description": "東京タワー", "body": "Fire!", "tagList": []string{"dragons"}, "category": "travel"}}).want(t, 201)
	ts.do("POST", "/api/articles", bob, map[string]any{"article": map[string]any{"title": "Cooking for dragons",
		"description": "Grüße", "body": "Slowly, with \"OR\" and (stars*)", "tagList": []string{"food", "dragons"}, "category": "food"}}).want(t, 201)
	ts.do("POST", "/api/articles", bob, newArticle("Plain")).want(t, 201)
	ts.do("POST", "/api/articles/cooking-for-dragons/favorite", jake, nil).want(t, 200)

	for _, tt := range []struct {
		params []string
		want   []string
	}{
		{[]string{"tag", "dragons"}, []string{"cooking-for-dragons", "dragons-of-tokyo"}},
		{[]string{"tag", "food"}, []string{"cooking-for-dragons"}},
		{[]string{"tag", "none"}, []string{}},
		{[]string{"author", "jake"}, []string{"dragons-of-tokyo"}}, // usernames match case-insensitively
		{[]string{"author", "bob"}, []string{"plain", "cooking-for-dragons"}},
		{[]string{"author", "johnjacob"}, []string{}}, // unknown user: empty list, not 404
		{[]string{"favorited", "Jake"}, []string{"cooking-for-dragons"}},
		{[]string{"favorited", "bob"}, []string{}},
		{[]string{"favorited", "nobody"}, []string{}},
		{[]string{"category", "food"}, []string{"cooking-for-dragons"}},
		{[]string{"category", "science"}, []string{}},
		{[]string{"category", "unknown"}, []string{}},
		{[]string{"tag", "dragons", "author", "bob"}, []string{"cooking-for-dragons"}},
		{[]string{"q", "dragons"}, []string{"dragons-of-tokyo", "cooking-for-dragons"}}, // ranked: equal title matches, the shorter article first
		{[]string{"q", "東京タワー"}, []string{"dragons-of-tokyo"}},
		{[]string{"q", "GRÜSSE grüße"}, []string{}},
		{[]string{"q", "grüße"}, []string{"cooking-for-dragons"}},
		{[]string{"q", "fire dragons"}, []string{"dragons-of-tokyo"}},
		{[]string{"q", `"OR" (stars*`}, []string{"cooking-for-dragons"}},
		{[]string{"q", `"`}, []string{}},
		{[]string{"q", `*`}, []string{}},
		{[]string{"q", `(`}, []string{}},
		{[]string{"q", `OR`}, []string{"cooking-for-dragons"}},
		{[]string{"q", "dragons", "category", "travel"}, []string{"dragons-of-tokyo"}},
		{[]string{"q", "   "}, []string{"plain", "cooking-for-dragons", "dragons-of-tokyo"}},
		{[]string{"tag", "a\x00b"}, []string{}},
		{[]string{"author", "\xff"}, []string{}},
	} {
		r := ts.do("GET", q("/api/articles", tt.params...), "", nil).want(t, http.StatusOK)
		assert.Equal(t, tt.want, slugsOf(r.articles()), "%q", tt.params)
		assert.Equal(t, len(tt.want), r.count(), "%q: count", tt.params)
	}
	// articlesCount is the total, not the page size.
	r := ts.do("GET", q("/api/articles", "tag", "dragons", "limit", "1"), "", nil).want(t, 200)
	require.Equal(t, 2, r.count(), "count")
	require.Len(t, r.articles(), 1, "page")
	// Korean search: particles, 2-character words, prefixes; a snippet
	// (searchSnippet, plain-text parts) on search results only.
	ts.do("POST", "/api/articles", jake, map[string]any{"article": map[string]any{"title": "관측 가능성",
		"description": "쿠버네티스 클러스터", "body": "프로메테우스와 그라파나로 모니터링을 구축했습니다. 분산 추적은 예거를 <b>사용</b>합니다."}}).want(t, 201)
	for _, word := range []string{"모니터링", "예거", "쿠버", "그라파나 클러스"} {
		r := ts.do("GET", q("/api/articles", "q", word), "", nil).want(t, 200)
		got := slugsOf(r.articles())
		assert.Equal(t, 1, r.count(), "q=%s: %q", word, got)
		if assert.Len(t, got, 1, "q=%s", word) {
			assert.NotEmpty(t, got[0], "q=%s", word)
		}
	}
	r = ts.do("GET", q("/api/articles", "q", "예거 사용"), "", nil).want(t, 200)
	assert.Contains(t, r.raw, `"searchSnippet":[{"text":"프로메테우스와 그라파나로 모니터링을 구축했습니다. 분산 추적은 ","match":false},`+
		`{"text":"예거","match":true},{"text":"를 \u003cb\u003e","match":false},{"text":"사용","match":true},`, "snippet")
	r = ts.do("GET", "/api/articles", "", nil).want(t, 200)
	assert.NotContains(t, r.raw, "searchSnippet", "a plain list has snippets")
}

func TestFavorites(t *testing.T) {
	t.Parallel()
	ts := newTestService(t)
	jake, bob, amy := ts.tokens.user(t, 1, "jake"), ts.tokens.user(t, 2, "bob"), ts.tokens.user(t, 3, "amy")
	slug := ts.create(jake, "Favorite me")
	check := func(r response, favorited bool, count float64) {
		t.Helper()
		a := r.want(t, http.StatusOK).article()
		require.Equal(t, favorited, a["favorited"], "favorited")
		require.Equal(t, count, a["favoritesCount"], "favoritesCount")
		require.NotNil(t, a["body"], "an article carries its body")
	}
	check(ts.do("POST", "/api/articles/"+slug+"/favorite", bob, nil), true, 1)
	check(ts.do("POST", "/api/articles/"+slug+"/favorite", bob, nil), true, 1) // idempotent
	check(ts.do("POST", "/api/articles/"+slug+"/favorite", amy, nil), true, 2)
	check(ts.do("GET", "/api/articles/"+slug, bob, nil), true, 2)
	check(ts.do("GET", "/api/articles/"+slug, jake, nil), false, 2)
	check(ts.do("GET", "/api/articles/"+slug, "", nil), false, 2)
	list := ts.do("GET", "/api/articles", bob, nil).articles()
	require.Equal(t, true, list[0]["favorited"], "list for bob %v", list[0])
	require.Equal(t, 2.0, list[0]["favoritesCount"], "list for bob %v", list[0])
	list = ts.do("GET", "/api/articles", jake, nil).articles()
	require.Equal(t, false, list[0]["favorited"], "list for jake %v", list[0])
	check(ts.do("DELETE", "/api/articles/"+slug+"/favorite", bob, nil), false, 1)
	check(ts.do("DELETE", "/api/articles/"+slug+"/favorite", bob, nil), false, 1) // idempotent
	check(ts.do("DELETE", "/api/articles/"+slug+"/favorite", jake, nil), false, 1)
	r := ts.do("GET", q("/api/articles", "favorited", "amy"), "", nil)
	_ = r // amy is unknown to the users stub: empty, not an error
	ts.users.add(3, "amy", "", 1)
	r = ts.do("GET", q("/api/articles", "favorited", "amy"), "", nil).want(t, 200)
	require.Equal(t, 1, r.count(), "favorited by amy: %s", r.raw)
	require.Equal(t, 1.0, r.articles()[0]["favoritesCount"], "favorited by amy: %s", r.raw)
}

func TestComments(t *testing.T) {
	t.Parallel()
	ts := newTestService(t)
	ts.users.add(2, "bob", "bob's bio", 5)
	jake, bob := ts.tokens.user(t, 1, "jake"), ts.tokens.user(t, 2, "bob")
	slug := ts.create(jake, "Discuss")
	first := ts.do("POST", "/api/articles/"+slug+"/comments", bob, map[string]any{"comment": map[string]any{"body": "  first  "}}).
		want(t, http.StatusOK).body["comment"].(map[string]any)
	require.Equal(t, "first", first["body"], "comment %v", first)
	require.Regexp(t, isoMillis, first["createdAt"].(string))
	require.Equal(t, first["createdAt"], first["updatedAt"])
	au := first["author"].(map[string]any)
	require.Equal(t, "bob", au["username"], "comment author %v", au)
	require.Equal(t, "bob's bio", au["bio"], "comment author %v", au)
	require.Equal(t, false, au["following"], "comment author %v", au)
	second := ts.do("POST", "/api/articles/"+slug+"/comments", jake, map[string]any{"comment": map[string]any{"body": "second"}}).
		want(t, http.StatusOK).body["comment"].(map[string]any)

	list := ts.do("GET", "/api/articles/"+slug+"/comments", "", nil).want(t, http.StatusOK).body["comments"].([]any)
	require.Len(t, list, 2, "comments %v", list)
	require.Equal(t, []any{second["id"], first["id"]}, []any{list[0].(map[string]any)["id"], list[1].(map[string]any)["id"]}, "newest first")
	ts.do("DELETE", fmt.Sprintf("/api/articles/%s/comments/%v", slug, first["id"]), jake, nil).
		wantError(t, http.StatusForbidden, "only the author may delete this comment")
	ts.do("DELETE", fmt.Sprintf("/api/articles/%s/comments/%v", slug, first["id"]), bob, nil).want(t, http.StatusNoContent)
	list = ts.do("GET", "/api/articles/"+slug+"/comments", bob, nil).want(t, http.StatusOK).body["comments"].([]any)
	require.Len(t, list, 1, "after delete %v", list)
	require.Equal(t, second["id"], list[0].(map[string]any)["id"], "after delete")
	empty := ts.create(jake, "Quiet")
	r := ts.do("GET", "/api/articles/"+empty+"/comments", "", nil).want(t, 200)
	require.Equal(t, "{\"comments\":[]}\n", r.raw, "no comments")
	// Deleting the article deletes its comments.
	ts.do("DELETE", "/api/articles/"+slug, jake, nil).want(t, http.StatusNoContent)
	ts.do("GET", "/api/articles/"+slug+"/comments", "", nil).wantError(t, http.StatusNotFound, "article not found")
}

func TestTagsAndCategories(t *testing.T) {
	t.Parallel()
	ts := newTestService(t)
	tok := ts.tokens.user(t, 1, "jake")
	require.Equal(t, "{\"tags\":[]}\n", ts.do("GET", "/api/tags", "", nil).want(t, 200).raw, "no tags")
	ts.create(tok, "A", "go", "db")
	ts.create(tok, "B", "go")
	ts.do("POST", "/api/articles", tok, map[string]any{"article": map[string]any{"title": "C", "description": "d", "body": "b",
		"tagList": []string{"go", "db", "zz"}, "category": "technology"}}).want(t, 201)
	ts.do("POST", "/api/articles", tok, map[string]any{"article": map[string]any{"title": "D", "description": "d", "body": "b",
		"category": "technology"}}).want(t, 201)
	ts.do("POST", "/api/articles", tok, map[string]any{"article": map[string]any{"title": "E", "description": "d", "body": "b",
		"category": "food"}}).want(t, 201)
	tags := ts.do("GET", "/api/tags", "", nil).want(t, 200).body["tags"]
	require.Equal(t, "[go db zz]", fmt.Sprint(tags), "tags, most used first")
	cats := ts.do("GET", "/api/categories", "", nil).want(t, 200).body["categories"].([]any)
	require.Len(t, cats, 8, "categories %v", cats)
	counts := map[string]float64{}
	for _, c := range cats {
		m := c.(map[string]any)
		counts[m["slug"].(string)] = m["articlesCount"].(float64)
		require.NotEmpty(t, m["name"], "category %v", m)
		require.True(t, strings.HasPrefix(m["color"].(string), "#"), "category %v", m)
	}
	require.Equal(t, 2.0, counts["technology"], "counts %v", counts)
	require.Equal(t, 1.0, counts["food"], "counts %v", counts)
	require.Zero(t, counts["science"], "counts %v", counts)
	got := ts.do("GET", q("/api/articles", "category", "technology"), "", nil).articles()
	require.Len(t, got, 2, "category filter %v", got)
	require.Equal(t, "technology", got[0]["category"], "category filter %v", got)
}

func TestFeedAndFollowing(t *testing.T) {
	t.Parallel()
	ts := newTestService(t)
	ts.users.add(1, "jake", "", 1)
	ts.users.add(2, "bob", "", 1)
	ts.users.add(3, "amy", "", 1)
	jake, bob, amy := ts.tokens.user(t, 1, "jake"), ts.tokens.user(t, 2, "bob"), ts.tokens.user(t, 3, "amy")
	b1 := ts.create(bob, "Bob one")
	ts.create(amy, "Amy one")
	b2 := ts.create(bob, "Bob two")
	r := ts.do("GET", "/api/articles/feed", jake, nil).want(t, 200)
	require.Zero(t, r.count(), "empty feed %s", r.raw)
	require.NotNil(t, r.body["articles"], "empty feed %s", r.raw)
	// Follows arrive as users events; apply one as the consumer would.
	_, err := ts.svc.Store().ApplyFollowTx(t.Context(), ts.db, domain.Follow{FollowerID: 1, FolloweeID: 2, Following: true, At: 10})
	require.NoError(t, err)
	r = ts.do("GET", "/api/articles/feed", jake, nil).want(t, 200)
	require.Equal(t, []string{b2, b1}, slugsOf(r.articles()), "feed")
	require.Equal(t, 2, r.count(), "feed count")
	require.NotContains(t, r.articles()[0], "body", "feed items must not carry body")
	au := r.articles()[0]["author"].(map[string]any)
	require.Equal(t, "bob", au["username"], "author %v", au)
	require.Equal(t, true, au["following"], "author %v", au)
	r = ts.do("GET", q("/api/articles/feed", "limit", "1", "offset", "1"), jake, nil).want(t, 200)
	require.Equal(t, []string{b1}, slugsOf(r.articles()), "feed page")
	require.Equal(t, 2, r.count(), "feed page count")
	// Following shows in lists and single articles for that viewer only.
	for _, a := range ts.do("GET", "/api/articles", jake, nil).articles() {
		au := a["author"].(map[string]any)
		require.Equal(t, au["username"] == "bob", au["following"], "following flag %v", au)
	}
	au = ts.do("GET", "/api/articles/"+b1, amy, nil).article()["author"].(map[string]any)
	require.Equal(t, false, au["following"], "amy sees following %v", au)
}

func TestAuthorsFromReadModelAndFallback(t *testing.T) {
	t.Parallel()
	ts := newTestService(t)
	ts.users.add(2, "bob", "from users", 100)
	bob := ts.tokens.user(t, 2, "bob")
	slug := ts.create(bob, "Hello")
	calls := ts.users.callCount()
	require.NotZero(t, calls, "the read model missed but users was not asked")
	// Now known locally: further reads do not call users.
	for range 3 {
		au := ts.do("GET", "/api/articles", "", nil).articles()[0]["author"].(map[string]any)
		require.Equal(t, "from users", au["bio"], "author %v", au)
	}
	require.Equal(t, calls, ts.users.callCount(), "users called again")
	// A newer profile (as an event would bring) shows at once, through any cache.
	_, err := ts.svc.Store().UpsertAuthor(t.Context(), domain.Profile{ID: 2, Username: "robert", Bio: ptr("renamed"), Version: 200})
	require.NoError(t, err)
	au := ts.do("GET", "/api/articles/"+slug, "", nil).article()["author"].(map[string]any)
	require.Equal(t, "robert", au["username"], "author %v", au)
	require.Equal(t, "renamed", au["bio"], "author %v", au)
	r := ts.do("GET", q("/api/articles", "author", "robert"), "", nil)
	require.Equal(t, 1, r.count(), "by new name: %s", r.raw)
}

func TestReadsWhenUsersIsDown(t *testing.T) {
	t.Parallel()
	ts := newTestService(t)
	ts.users.add(1, "jake", "known", 10)
	jake := ts.tokens.user(t, 1, "jake")
	known := ts.create(jake, "Known author") // jake lands in the read model
	// Carl is not in the read model, and users goes away before anyone reads his article.
	carl := ts.tokens.user(t, 7, "carl")
	ts.users.srv.Close()
	carlSlug := ts.create(carl, "Carl writes while users is down")
	au := ts.do("GET", "/api/articles/"+carlSlug, "", nil).want(t, 200).article()["author"].(map[string]any)
	require.Equal(t, "carl", au["username"], "carl's article author %v", au)
	r := ts.do("GET", "/api/articles", "", nil).want(t, 200)
	require.Equal(t, 2, r.count(), "list %s", r.raw)
	byName := map[string]map[string]any{}
	for _, a := range r.articles() {
		byName[a["slug"].(string)] = a["author"].(map[string]any)
	}
	require.Equal(t, "jake", byName[known]["username"], "authors %v", byName)
	require.Equal(t, "known", byName[known]["bio"], "authors %v", byName)
	require.Equal(t, "carl", byName[carlSlug]["username"], "authors %v", byName)
	ts.do("GET", q("/api/articles", "author", "jake"), "", nil).want(t, 200)
	r = ts.do("GET", q("/api/articles", "author", "carl"), "", nil).want(t, 200)
	require.Zero(t, r.count(), "unresolvable author: %s", r.raw)
	ts.do("POST", "/api/articles/"+carlSlug+"/comments", jake, map[string]any{"comment": map[string]any{"body": "hi"}}).want(t, 200)
	ts.do("GET", "/api/articles/"+carlSlug+"/comments", "", nil).want(t, 200)
	ts.do("GET", "/api/articles/feed", jake, nil).want(t, 200)
	ts.do("GET", "/api/tags", "", nil).want(t, 200)
}

func ptr(s string) *string { return &s }

// The blog asks the users service about a writer it has not heard of, and
// refuses a token whose account users does not know (deleted, or never
// there), whatever the token's signature says.
func TestAbuse_TokenLifecycle_BlogRefusesTokensOfAccountsThatNoLongerExist(t *testing.T) {
	t.Parallel()
	ts := newTestService(t)
	jake := ts.tokens.user(t, 1, "jake")
	slug := ts.create(jake, "Jake's article")
	ghost := ts.tokens.user(t, 99, "ghost")
	ts.users.remove(99)
	ts.do("POST", "/api/articles", ghost, newArticle("Haunted")).
		wantError(t, http.StatusUnauthorized, "the account of this token no longer exists")
	ts.do("POST", "/api/articles/"+slug+"/comments", ghost, map[string]any{"comment": map[string]any{"body": "boo"}}).
		wantError(t, http.StatusUnauthorized, "the account of this token no longer exists")

	// A stale name in a token is not what gets stored: the current one is.
	renamed := ts.tokens.user(t, 7, "old-name")
	ts.users.add(7, "new-name", "", 5)
	got := ts.do("POST", "/api/articles", renamed, newArticle("Renamed")).want(t, http.StatusCreated).article()
	require.Equal(t, "new-name", got["author"].(map[string]any)["username"], "the author's current name")
}
