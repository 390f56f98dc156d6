package blog_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

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
	if a["slug"] != "how-to-train-your-dragon" || a["title"] != "How to train your dragon" ||
		a["description"] != "About How to train your dragon" || a["body"] != "Body of How to train your dragon" ||
		fmt.Sprint(a["tagList"]) != "[dragons training]" || a["favorited"] != false || a["favoritesCount"] != 0.0 ||
		a["category"] != nil {
		t.Fatalf("created %v", a)
	}
	if _, ok := a["category"]; !ok {
		t.Fatal("category field missing")
	}
	for _, f := range []string{"createdAt", "updatedAt"} {
		if !isoMillis.MatchString(a[f].(string)) {
			t.Fatalf("%s = %q, want ISO 8601 with milliseconds", f, a[f])
		}
	}
	author := a["author"].(map[string]any)
	if author["username"] != "jake" || author["bio"] != "I work at statefarm" || author["following"] != false {
		t.Fatalf("author %v", author)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Fatalf("Content-Type %q", ct)
	}

	got := ts.do("GET", "/api/articles/how-to-train-your-dragon", "", nil).want(t, http.StatusOK).article()
	if got["body"] != a["body"] || got["createdAt"] != a["createdAt"] {
		t.Fatalf("get %v", got)
	}

	list := ts.do("GET", "/api/articles", "", nil).want(t, http.StatusOK)
	if list.count() != 1 || len(list.articles()) != 1 {
		t.Fatalf("list %s", list.raw)
	}
	if _, ok := list.articles()[0]["body"]; ok {
		t.Fatal("list items must not carry body")
	}

	// A new title moves the article to a new slug; the old one is gone.
	upd := ts.do("PUT", "/api/articles/how-to-train-your-dragon", jake,
		map[string]any{"article": map[string]any{"title": "Did you train your dragon?", "category": "science"}}).
		want(t, http.StatusOK).article()
	if upd["slug"] != "did-you-train-your-dragon" || upd["body"] != a["body"] || upd["category"] != "science" ||
		upd["createdAt"] != a["createdAt"] || fmt.Sprint(upd["tagList"]) != "[dragons training]" {
		t.Fatalf("updated %v", upd)
	}
	ts.do("GET", "/api/articles/how-to-train-your-dragon", "", nil).wantError(t, http.StatusNotFound, "article not found")
	ts.do("GET", "/api/articles/did-you-train-your-dragon", "", nil).want(t, http.StatusOK)

	// Body-only update keeps the slug; null category clears it.
	upd = ts.do("PUT", "/api/articles/did-you-train-your-dragon", jake,
		map[string]any{"article": map[string]any{"body": "With two hands", "category": nil, "tagList": []string{}}}).
		want(t, http.StatusOK).article()
	if upd["slug"] != "did-you-train-your-dragon" || upd["body"] != "With two hands" || upd["category"] != nil ||
		len(upd["tagList"].([]any)) != 0 {
		t.Fatalf("updated %v", upd)
	}

	r = ts.do("DELETE", "/api/articles/did-you-train-your-dragon", jake, nil).want(t, http.StatusNoContent)
	if r.raw != "" {
		t.Fatalf("204 with body %q", r.raw)
	}
	ts.do("GET", "/api/articles/did-you-train-your-dragon", "", nil).wantError(t, http.StatusNotFound, "article not found")
	if list := ts.do("GET", "/api/articles", "", nil); list.count() != 0 || len(list.articles()) != 0 {
		t.Fatalf("list after delete %s", list.raw)
	}
}

func TestUnicodeAndReservedSlugs(t *testing.T) {
	t.Parallel()
	ts := newTestService(t)
	tok := ts.tokens.user(t, 1, "jake")
	slug := ts.create(tok, "Über München — 東京")
	if slug != "über-münchen-東京" {
		t.Fatalf("slug %q", slug)
	}
	ts.do("GET", "/api/articles/"+slug, "", nil).want(t, http.StatusOK)
	ts.do("GET", "/api/articles/%C3%BCber-m%C3%BCnchen-%E6%9D%B1%E4%BA%AC", "", nil).want(t, http.StatusOK)
	feed := ts.create(tok, "Feed")
	if !strings.HasPrefix(feed, "feed-") {
		t.Fatalf("an article slugged %q would hide behind /api/articles/feed", feed)
	}
	ts.do("GET", "/api/articles/"+feed, "", nil).want(t, http.StatusOK)
	again := ts.create(tok, "Über München — 東京")
	if again == slug || !strings.HasPrefix(again, slug+"-") {
		t.Fatalf("duplicate title slug %q", again)
	}
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
		if r.header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s %s: no WWW-Authenticate", tt.method, tt.path)
		}
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
	if a := ts.do("GET", "/api/articles/"+slug, "", nil).want(t, http.StatusOK).article(); a["title"] != "Jake's article" {
		t.Fatalf("article changed: %v", a)
	}
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
	if rec.Code != 422 || !strings.Contains(rec.Body.String(), "body must be JSON") {
		t.Fatalf("text/plain body: %d %s", rec.Code, rec.Body)
	}
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
	if r.count() != 25 || !slices.Equal(slugsOf(r.articles()), newestFirst[:20]) {
		t.Fatalf("default page: count %d, %q", r.count(), slugsOf(r.articles()))
	}
	r = ts.do("GET", q("/api/articles", "limit", "10", "offset", "20"), "", nil).want(t, http.StatusOK)
	if r.count() != 25 || !slices.Equal(slugsOf(r.articles()), newestFirst[20:]) {
		t.Fatalf("last page: count %d, %q", r.count(), slugsOf(r.articles()))
	}
	r = ts.do("GET", q("/api/articles", "limit", "100", "offset", "1000"), "", nil).want(t, http.StatusOK)
	if r.count() != 25 || len(r.articles()) != 0 || r.body["articles"] == nil {
		t.Fatalf("past the end: %s", r.raw)
	}
	r = ts.do("GET", q("/api/articles", "limit", "", "offset", ""), "", nil).want(t, http.StatusOK)
	if len(r.articles()) != 20 {
		t.Fatalf("empty params: %d", len(r.articles()))
	}
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
		if got := slugsOf(r.articles()); !slices.Equal(got, tt.want) || r.count() != len(tt.want) {
			t.Errorf("%q: got %q (count %d), want %q", tt.params, got, r.count(), tt.want)
		}
	}
	// articlesCount is the total, not the page size.
	r := ts.do("GET", q("/api/articles", "tag", "dragons", "limit", "1"), "", nil).want(t, 200)
	if r.count() != 2 || len(r.articles()) != 1 {
		t.Fatalf("count %d, page %d", r.count(), len(r.articles()))
	}
	// Korean search: particles, 2-character words, prefixes; a snippet
	// (searchSnippet, plain-text parts) on search results only.
	ts.do("POST", "/api/articles", jake, map[string]any{"article": map[string]any{"title": "관측 가능성",
		"description": "쿠버네티스 클러스터", "body": "프로메테우스와 그라파나로 모니터링을 구축했습니다. 분산 추적은 예거를 <b>사용</b>합니다."}}).want(t, 201)
	for _, word := range []string{"모니터링", "예거", "쿠버", "그라파나 클러스"} {
		r := ts.do("GET", q("/api/articles", "q", word), "", nil).want(t, 200)
		if got := slugsOf(r.articles()); r.count() != 1 || len(got) != 1 || got[0] == "" {
			t.Errorf("q=%s: %q", word, got)
		}
	}
	r = ts.do("GET", q("/api/articles", "q", "예거 사용"), "", nil).want(t, 200)
	if !strings.Contains(string(r.raw), `"searchSnippet":[{"text":"프로메테우스와 그라파나로 모니터링을 구축했습니다. 분산 추적은 ","match":false},`+
		`{"text":"예거","match":true},{"text":"를 \u003cb\u003e","match":false},{"text":"사용","match":true},`) {
		t.Errorf("snippet: %s", r.raw)
	}
	if r = ts.do("GET", "/api/articles", "", nil).want(t, 200); strings.Contains(string(r.raw), "searchSnippet") {
		t.Errorf("a plain list has snippets: %s", r.raw)
	}
}

func TestFavorites(t *testing.T) {
	t.Parallel()
	ts := newTestService(t)
	jake, bob, amy := ts.tokens.user(t, 1, "jake"), ts.tokens.user(t, 2, "bob"), ts.tokens.user(t, 3, "amy")
	slug := ts.create(jake, "Favorite me")
	check := func(r response, favorited bool, count float64) {
		t.Helper()
		a := r.want(t, http.StatusOK).article()
		if a["favorited"] != favorited || a["favoritesCount"] != count || a["body"] == nil {
			t.Fatalf("favorited %v count %v, want %v %v", a["favorited"], a["favoritesCount"], favorited, count)
		}
	}
	check(ts.do("POST", "/api/articles/"+slug+"/favorite", bob, nil), true, 1)
	check(ts.do("POST", "/api/articles/"+slug+"/favorite", bob, nil), true, 1) // idempotent
	check(ts.do("POST", "/api/articles/"+slug+"/favorite", amy, nil), true, 2)
	check(ts.do("GET", "/api/articles/"+slug, bob, nil), true, 2)
	check(ts.do("GET", "/api/articles/"+slug, jake, nil), false, 2)
	check(ts.do("GET", "/api/articles/"+slug, "", nil), false, 2)
	list := ts.do("GET", "/api/articles", bob, nil).articles()
	if list[0]["favorited"] != true || list[0]["favoritesCount"] != 2.0 {
		t.Fatalf("list for bob %v", list[0])
	}
	if list := ts.do("GET", "/api/articles", jake, nil).articles(); list[0]["favorited"] != false {
		t.Fatalf("list for jake %v", list[0])
	}
	check(ts.do("DELETE", "/api/articles/"+slug+"/favorite", bob, nil), false, 1)
	check(ts.do("DELETE", "/api/articles/"+slug+"/favorite", bob, nil), false, 1) // idempotent
	check(ts.do("DELETE", "/api/articles/"+slug+"/favorite", jake, nil), false, 1)
	r := ts.do("GET", q("/api/articles", "favorited", "amy"), "", nil)
	_ = r // amy is unknown to the users stub: empty, not an error
	ts.users.add(3, "amy", "", 1)
	r = ts.do("GET", q("/api/articles", "favorited", "amy"), "", nil).want(t, 200)
	if r.count() != 1 || r.articles()[0]["favoritesCount"] != 1.0 {
		t.Fatalf("favorited by amy: %s", r.raw)
	}
}

func TestComments(t *testing.T) {
	t.Parallel()
	ts := newTestService(t)
	ts.users.add(2, "bob", "bob's bio", 5)
	jake, bob := ts.tokens.user(t, 1, "jake"), ts.tokens.user(t, 2, "bob")
	slug := ts.create(jake, "Discuss")
	first := ts.do("POST", "/api/articles/"+slug+"/comments", bob, map[string]any{"comment": map[string]any{"body": "  first  "}}).
		want(t, http.StatusOK).body["comment"].(map[string]any)
	if first["body"] != "first" || !isoMillis.MatchString(first["createdAt"].(string)) || first["updatedAt"] != first["createdAt"] {
		t.Fatalf("comment %v", first)
	}
	if au := first["author"].(map[string]any); au["username"] != "bob" || au["bio"] != "bob's bio" || au["following"] != false {
		t.Fatalf("comment author %v", au)
	}
	second := ts.do("POST", "/api/articles/"+slug+"/comments", jake, map[string]any{"comment": map[string]any{"body": "second"}}).
		want(t, http.StatusOK).body["comment"].(map[string]any)

	list := ts.do("GET", "/api/articles/"+slug+"/comments", "", nil).want(t, http.StatusOK).body["comments"].([]any)
	if len(list) != 2 || list[0].(map[string]any)["id"] != second["id"] || list[1].(map[string]any)["id"] != first["id"] {
		t.Fatalf("comments (newest first) %v", list)
	}
	ts.do("DELETE", fmt.Sprintf("/api/articles/%s/comments/%v", slug, first["id"]), jake, nil).
		wantError(t, http.StatusForbidden, "only the author may delete this comment")
	ts.do("DELETE", fmt.Sprintf("/api/articles/%s/comments/%v", slug, first["id"]), bob, nil).want(t, http.StatusNoContent)
	list = ts.do("GET", "/api/articles/"+slug+"/comments", bob, nil).want(t, http.StatusOK).body["comments"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["id"] != second["id"] {
		t.Fatalf("after delete %v", list)
	}
	empty := ts.create(jake, "Quiet")
	if r := ts.do("GET", "/api/articles/"+empty+"/comments", "", nil).want(t, 200); r.raw != "{\"comments\":[]}\n" {
		t.Fatalf("no comments: %q", r.raw)
	}
	// Deleting the article deletes its comments.
	ts.do("DELETE", "/api/articles/"+slug, jake, nil).want(t, http.StatusNoContent)
	ts.do("GET", "/api/articles/"+slug+"/comments", "", nil).wantError(t, http.StatusNotFound, "article not found")
}

func TestTagsAndCategories(t *testing.T) {
	t.Parallel()
	ts := newTestService(t)
	tok := ts.tokens.user(t, 1, "jake")
	if r := ts.do("GET", "/api/tags", "", nil).want(t, 200); r.raw != "{\"tags\":[]}\n" {
		t.Fatalf("no tags: %q", r.raw)
	}
	ts.create(tok, "A", "go", "db")
	ts.create(tok, "B", "go")
	ts.do("POST", "/api/articles", tok, map[string]any{"article": map[string]any{"title": "C", "description": "d", "body": "b",
		"tagList": []string{"go", "db", "zz"}, "category": "technology"}}).want(t, 201)
	ts.do("POST", "/api/articles", tok, map[string]any{"article": map[string]any{"title": "D", "description": "d", "body": "b",
		"category": "technology"}}).want(t, 201)
	ts.do("POST", "/api/articles", tok, map[string]any{"article": map[string]any{"title": "E", "description": "d", "body": "b",
		"category": "food"}}).want(t, 201)
	tags := ts.do("GET", "/api/tags", "", nil).want(t, 200).body["tags"]
	if fmt.Sprint(tags) != "[go db zz]" {
		t.Fatalf("tags %v, want most used first", tags)
	}
	cats := ts.do("GET", "/api/categories", "", nil).want(t, 200).body["categories"].([]any)
	if len(cats) != 8 {
		t.Fatalf("categories %v", cats)
	}
	counts := map[string]float64{}
	for _, c := range cats {
		m := c.(map[string]any)
		counts[m["slug"].(string)] = m["articlesCount"].(float64)
		if m["name"] == "" || !strings.HasPrefix(m["color"].(string), "#") {
			t.Fatalf("category %v", m)
		}
	}
	if counts["technology"] != 2 || counts["food"] != 1 || counts["science"] != 0 {
		t.Fatalf("counts %v", counts)
	}
	if got := ts.do("GET", q("/api/articles", "category", "technology"), "", nil).articles(); len(got) != 2 ||
		got[0]["category"] != "technology" {
		t.Fatalf("category filter %v", got)
	}
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
	if r := ts.do("GET", "/api/articles/feed", jake, nil).want(t, 200); r.count() != 0 || r.body["articles"] == nil {
		t.Fatalf("empty feed %s", r.raw)
	}
	// Follows arrive as users events; apply one as the consumer would.
	if _, err := ts.svc.Store().ApplyFollowTx(t.Context(), ts.db, domain.Follow{FollowerID: 1, FolloweeID: 2, Following: true, At: 10}); err != nil {
		t.Fatal(err)
	}
	r := ts.do("GET", "/api/articles/feed", jake, nil).want(t, 200)
	if got := slugsOf(r.articles()); !slices.Equal(got, []string{b2, b1}) || r.count() != 2 {
		t.Fatalf("feed %q", got)
	}
	if _, ok := r.articles()[0]["body"]; ok {
		t.Fatal("feed items must not carry body")
	}
	if au := r.articles()[0]["author"].(map[string]any); au["username"] != "bob" || au["following"] != true {
		t.Fatalf("author %v", au)
	}
	r = ts.do("GET", q("/api/articles/feed", "limit", "1", "offset", "1"), jake, nil).want(t, 200)
	if got := slugsOf(r.articles()); !slices.Equal(got, []string{b1}) || r.count() != 2 {
		t.Fatalf("feed page %q", got)
	}
	// Following shows in lists and single articles for that viewer only.
	for _, a := range ts.do("GET", "/api/articles", jake, nil).articles() {
		au := a["author"].(map[string]any)
		if au["following"] != (au["username"] == "bob") {
			t.Fatalf("following flag %v", au)
		}
	}
	if au := ts.do("GET", "/api/articles/"+b1, amy, nil).article()["author"].(map[string]any); au["following"] != false {
		t.Fatalf("amy sees following %v", au)
	}
}

func TestAuthorsFromReadModelAndFallback(t *testing.T) {
	t.Parallel()
	ts := newTestService(t)
	ts.users.add(2, "bob", "from users", 100)
	bob := ts.tokens.user(t, 2, "bob")
	slug := ts.create(bob, "Hello")
	calls := ts.users.callCount()
	if calls == 0 {
		t.Fatal("the read model missed but users was not asked")
	}
	// Now known locally: further reads do not call users.
	for range 3 {
		au := ts.do("GET", "/api/articles", "", nil).articles()[0]["author"].(map[string]any)
		if au["bio"] != "from users" {
			t.Fatalf("author %v", au)
		}
	}
	if ts.users.callCount() != calls {
		t.Fatalf("users called %d more times", ts.users.callCount()-calls)
	}
	// A newer profile (as an event would bring) shows at once, through any cache.
	if _, err := ts.svc.Store().UpsertAuthor(t.Context(), domain.Profile{ID: 2, Username: "robert", Bio: ptr("renamed"), Version: 200}); err != nil {
		t.Fatal(err)
	}
	au := ts.do("GET", "/api/articles/"+slug, "", nil).article()["author"].(map[string]any)
	if au["username"] != "robert" || au["bio"] != "renamed" {
		t.Fatalf("author %v", au)
	}
	if r := ts.do("GET", q("/api/articles", "author", "robert"), "", nil); r.count() != 1 {
		t.Fatalf("by new name: %s", r.raw)
	}
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
	if au := ts.do("GET", "/api/articles/"+carlSlug, "", nil).want(t, 200).article()["author"].(map[string]any); au["username"] != "carl" {
		t.Fatalf("carl's article author %v", au)
	}
	r := ts.do("GET", "/api/articles", "", nil).want(t, 200)
	if r.count() != 2 {
		t.Fatalf("list %s", r.raw)
	}
	byName := map[string]map[string]any{}
	for _, a := range r.articles() {
		byName[a["slug"].(string)] = a["author"].(map[string]any)
	}
	if byName[known]["username"] != "jake" || byName[known]["bio"] != "known" || byName[carlSlug]["username"] != "carl" {
		t.Fatalf("authors %v", byName)
	}
	ts.do("GET", q("/api/articles", "author", "jake"), "", nil).want(t, 200)
	if r := ts.do("GET", q("/api/articles", "author", "carl"), "", nil).want(t, 200); r.count() != 0 {
		t.Fatalf("unresolvable author: %s", r.raw)
	}
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
	if name := got["author"].(map[string]any)["username"]; name != "new-name" {
		t.Fatalf("author %v, want the current name new-name", name)
	}
}
