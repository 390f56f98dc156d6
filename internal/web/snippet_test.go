package web_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSearchResultsShowSnippetsWithMarks(t *testing.T) {
	t.Parallel()
	b := newBrowser(t)
	name := b.signUp()
	marker := "zq" + name + "snip"
	b.publish("Snippet "+name, "프로메테우스와 그라파나로 "+`<script>alert("s")</script> 모니터링을 구축했습니다. `+marker)

	body := b.get("/search?q=" + url.QueryEscape("모니터링 "+marker)).Body
	_, card, ok := strings.Cut(body, `<p class="snippet">`)
	require.True(t, ok, "no snippet on the results page")
	card, _, _ = strings.Cut(card, "</p>")
	require.Contains(t, card, "<mark>모니터링</mark>을")
	require.Contains(t, card, "<mark>"+marker+"</mark>")
	// The body's markup is text in the snippet, escaped, never HTML.
	require.Contains(t, card, "&lt;script&gt;alert(&#34;s&#34;)&lt;/script&gt;")
	require.NotContains(t, body, "<script>alert")
	require.NotContains(t, card, "style=")
}
