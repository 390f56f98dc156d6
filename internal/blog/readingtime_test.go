package blog_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Lists carry no body, so the blog stores each article's reading time and
// every list (and the article) carries it as readingMinutes.
func TestReadingMinutesInArticlesAndLists(t *testing.T) {
	t.Parallel()
	ts := newTestService(t)
	tok := ts.tokens.user(t, 1, "jake")
	// 1,200 Hangul syllables (3 minutes at 500 a minute); the fenced code's
	// 2,000 words are not counted.
	body := strings.Repeat("프로메테우스와 그라파나로 모니터링을 구축했습니다. ", 60) +
		"\n\n```go\n" + strings.Repeat("word ", 2000) + "\n```\n"
	r := ts.do("POST", "/api/articles", tok, map[string]any{"article": map[string]any{
		"title": "모니터링 구축기", "description": "d", "body": body, "tagList": []string{"ops"}}}).want(t, http.StatusCreated)
	require.EqualValues(t, 3, r.article()["readingMinutes"])
	slug := r.article()["slug"].(string)

	minutesIn := func(path, token string) any {
		t.Helper()
		list := ts.do("GET", path, token, nil).want(t, http.StatusOK).articles()
		require.Len(t, list, 1, path)
		_, hasBody := list[0]["body"]
		require.False(t, hasBody, path)
		return list[0]["readingMinutes"]
	}
	for _, path := range []string{"/api/articles", q("/api/articles", "tag", "ops"), q("/api/articles", "author", "jake"),
		q("/api/articles", "q", "모니터링")} {
		require.EqualValues(t, 3, minutesIn(path, ""), path)
	}
	require.EqualValues(t, 3, ts.do("GET", "/api/articles/"+slug, "", nil).want(t, http.StatusOK).article()["readingMinutes"])

	// A new body is measured again.
	r = ts.do("PUT", "/api/articles/"+slug, tok, map[string]any{"article": map[string]any{"body": "short"}}).want(t, http.StatusOK)
	require.EqualValues(t, 1, r.article()["readingMinutes"])
	require.EqualValues(t, 1, minutesIn("/api/articles", ""))
}
