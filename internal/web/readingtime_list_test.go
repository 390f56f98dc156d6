package web_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// List rows carry no body: the reading time comes from the blog's
// readingMinutes, in the page's language.
func TestListsShowReadingTime(t *testing.T) {
	t.Parallel()
	b := newBrowser(t)
	name := b.signUp()
	marker := "zq" + name + "read"
	// 1,200 syllables: 3 minutes; the fenced code is not counted.
	body := strings.Repeat("프로메테우스와 그라파나로 모니터링을 구축했습니다. ", 60) + marker +
		"\n\n```go\n" + strings.Repeat("word ", 2000) + "\n```\n"
	slug := b.publish("읽기 시간 "+name, body)

	card := func(page string) string {
		t.Helper()
		_, after, ok := strings.Cut(page, `href="/article/`+url.PathEscape(slug)+`"`)
		require.True(t, ok, "article not listed")
		before, _, _ := strings.Cut(page, `href="/article/`+url.PathEscape(slug)+`"`)
		start := strings.LastIndex(before, `<li class="card">`)
		require.GreaterOrEqual(t, start, 0)
		end := strings.Index(after, "</li>")
		return before[start:] + after[:max(end, 0)]
	}
	// (Not the home page: parallel tests may push it off page 1.)
	for _, path := range []string{"/profile/" + name, "/search?q=" + marker} {
		require.Contains(t, card(b.getLang(path, "ko").Body), `<span class="readtime">3분 읽기</span>`, path)
		require.Contains(t, card(b.getLang(path, "en").Body), `<span class="readtime">3 min read</span>`, path)
	}
	// The article page counts alike.
	require.Contains(t, b.getLang("/article/"+url.PathEscape(slug), "en").Body, "3 min read")
}
