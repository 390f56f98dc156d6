package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestArticleCodeIsHighlightedUnderTheCSP(t *testing.T) {
	t.Parallel()
	b := newBrowser(t)
	b.signUp()
	slug := b.publish("Highlighted code", "Some Go:\n\n```go\npackage main\n\nfunc main() {}\n```\n")
	p := b.get("/article/" + url.PathEscape(slug))
	require.Equal(t, http.StatusOK, p.Status)
	require.Contains(t, p.Body, `<link rel="stylesheet" href="/highlight.css">`)
	_, prose, _ := strings.Cut(p.Body, `<div class="prose">`)
	prose, _, _ = strings.Cut(prose, "</div>")
	require.Contains(t, prose, `<pre class="chroma">`)
	require.Contains(t, prose, `<span class="kn">package</span>`)
	require.NotContains(t, prose, "style=")
	require.NotContains(t, p.Header.Get("Content-Security-Policy"), "unsafe-inline")

	css := b.get("/highlight.css")
	require.Equal(t, http.StatusOK, css.Status)
	require.Equal(t, "text/css; charset=utf-8", css.Header.Get("Content-Type"))
	require.Equal(t, "nosniff", css.Header.Get("X-Content-Type-Options"))
	require.Contains(t, css.Body, ".chroma .kd")
}
