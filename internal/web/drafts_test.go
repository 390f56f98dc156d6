package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var previewURLField = regexp.MustCompile(`id="preview-url" value="([^"]+)"`)

const noindex = `<meta name="robots" content="noindex">`

// saveDraft writes an article through the editor's "Save draft" button
// and returns its slug.
func (b *browser) saveDraft(slug string, form url.Values) string {
	b.t.Helper()
	form = cloneValues(form)
	form.Set("action", "draft")
	path := "/editor"
	if slug != "" {
		path += "/" + url.PathEscape(slug)
	}
	p := b.post(path, form)
	require.Equal(b.t, http.StatusSeeOther, p.Status, p.Body)
	got, err := url.PathUnescape(strings.TrimPrefix(p.Header.Get("Location"), "/article/"))
	require.NoError(b.t, err)
	return got
}

// previewPath reads the draft's preview link from its author's page.
func (b *browser) previewPath(slug string) string {
	b.t.Helper()
	p := b.get("/article/" + url.PathEscape(slug))
	require.Equal(b.t, http.StatusOK, p.Status)
	m := previewURLField.FindStringSubmatch(p.Body)
	require.NotNil(b.t, m, "the author's page of a draft shows its preview link")
	u, err := url.Parse(strings.ReplaceAll(m[1], "&#43;", "+"))
	require.NoError(b.t, err)
	require.Equal(b.t, publicURL, u.Scheme+"://"+u.Host, "the link is absolute under the public URL")
	return u.Path
}

// TestDraftsInTheUI proves that a draft shows nowhere but to its author
// (and through its preview link): no page, list, search, feed, sitemap or
// tag list shows it to anyone, and the author's own lists leave it out but
// the drafts tab; publishing puts it everywhere, going back to draft takes
// it out again. Category counts, which tests running in parallel move, are
// proved by the blog's TestDrafts.
func TestDraftsInTheUI(t *testing.T) {
	t.Parallel()
	author := newBrowser(t)
	name := author.signUp()
	word := fmt.Sprintf("zqdraft%d", userSeq.Add(1))
	title := "Notes on " + word
	form := url.Values{"title": {title}, "description": {"about " + word}, "body": {"The " + word + " body."},
		"tags": {word}, "category": {"science"}}
	slug := author.saveDraft("", form)
	articlePath := "/article/" + url.PathEscape(slug)

	own := author.get(articlePath)
	require.Equal(t, http.StatusOK, own.Status)
	require.Contains(t, own.Body, `class="badge-draft"`)
	require.Contains(t, own.Body, noindex)
	require.Empty(t, canonical(t, own.Body), "a draft has no canonical URL")
	require.NotContains(t, own.Body, "application/ld+json", "nor a share preview")
	preview := author.previewPath(slug)

	anon := newBrowser(t)
	other := newBrowser(t)
	other.signUp()
	public := []string{"/", "/?tag=" + word, "/?category=science", "/search?q=" + word, "/profile/" + name,
		"/profile/" + name + "?tab=favorites", "/rss.xml", "/atom.xml", "/profile/" + name + "/rss.xml",
		"/profile/" + name + "/atom.xml", "/category/science/rss.xml", "/tag/" + word + "/atom.xml", "/sitemap.xml", "/api/tags",
		"/api/articles?author=" + name}
	shows := func(b *browser, path string) bool {
		p := b.get(path)
		require.Contains(t, []int{http.StatusOK, http.StatusNotFound}, p.Status, path)
		// Pages filtered by the word name it; the draft shows as its
		// title, its link or (JSON) its slug or tag.
		if strings.HasPrefix(path, "/api/") {
			return strings.Contains(p.Body, `"`+slug+`"`) || strings.Contains(p.Body, `"`+word+`"`)
		}
		return strings.Contains(p.Body, title) || strings.Contains(p.Body, "/article/"+slug)
	}
	hidden := func(when string) {
		t.Helper()
		for _, b := range []*browser{anon, other} {
			for _, path := range public {
				require.False(t, shows(b, path), "%s: %s shows the draft", when, path)
			}
			require.Equal(t, http.StatusNotFound, b.get(articlePath).Status, when+": another reader opens the draft")
			require.Equal(t, http.StatusNotFound, b.get("/api/articles/"+url.PathEscape(slug)).Status, when)
		}
		require.Equal(t, http.StatusNotFound, other.get("/profile/"+name+"?tab=drafts").Status, "someone else's drafts tab")
		for _, path := range []string{"/", "/profile/" + name, "/search?q=" + word} {
			require.False(t, shows(author, path), "%s: the author's %s shows the draft", when, path)
		}
	}
	hidden("saved as a draft")
	drafts := author.get("/profile/" + name + "?tab=drafts")
	require.Equal(t, http.StatusOK, drafts.Status)
	require.Contains(t, drafts.Body, articlePath)
	require.Contains(t, drafts.Body, `class="badge-draft"`)
	require.Contains(t, drafts.Body, noindex)

	// The preview link: anyone reads the draft, marked so, out of search engines.
	for _, b := range []*browser{anon, other} {
		p := b.get(preview)
		require.Equal(t, http.StatusOK, p.Status)
		require.Contains(t, p.Body, title)
		require.Contains(t, p.Body, noindex)
		require.Contains(t, p.Body, `class="badge-draft"`)
		require.Empty(t, canonical(t, p.Body))
		require.NotContains(t, p.Body, `id="comments"`, "a preview takes no comments")
		require.NotContains(t, p.Body, "/editor/", "nor offers editing")
	}
	require.Equal(t, http.StatusNotFound, anon.get("/preview/aaaaaaaaaaaaaaaaaaaaaaaaaa").Status)

	// The editor's Preview renders the body through the article sanitizer
	// and saves nothing.
	edit := cloneValues(form)
	edit.Set("body", "# Heading "+word+"\n\n<script>alert(1)</script>\n\n**bold**")
	edit.Set("action", "preview")
	p := author.post("/editor/"+url.PathEscape(slug), edit)
	require.Equal(t, http.StatusOK, p.Status)
	require.Contains(t, p.Body, `class="editor-preview"`)
	require.Regexp(t, `<h1[^>]*>Heading `+word+`</h1>`, p.Body)
	require.Contains(t, p.Body, "<strong>bold</strong>")
	require.NotContains(t, p.Body, "<script>alert(1)</script>", "the preview is sanitized")
	require.Contains(t, p.Body, "&lt;script&gt;alert(1)&lt;/script&gt;", "the textarea keeps what was typed")
	require.NotContains(t, author.get(articlePath).Body, "Heading "+word, "Preview saved the body")

	// A new link: the old one opens nothing.
	p = author.post(articlePath+"/preview-link", nil)
	require.Equal(t, http.StatusSeeOther, p.Status)
	renewed := author.previewPath(slug)
	require.NotEqual(t, preview, renewed)
	require.Equal(t, http.StatusNotFound, anon.get(preview).Status)
	require.Equal(t, http.StatusOK, anon.get(renewed).Status)

	// Publishing: everywhere (anonymous reads within the cache's staleness bound).
	pub := cloneValues(form)
	pub.Set("action", "publish")
	p = author.post("/editor/"+url.PathEscape(slug), pub)
	require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
	require.Equal(t, articlePath, p.Header.Get("Location"))
	for _, path := range []string{"/", "/?tag=" + word, "/search?q=" + word, "/rss.xml", "/sitemap.xml", "/api/tags", "/profile/" + name} {
		require.Eventually(t, func() bool { return shows(anon, path) }, 10*time.Second, 100*time.Millisecond, "published: %s", path)
	}
	page := anon.get(articlePath)
	require.Equal(t, http.StatusOK, page.Status)
	require.NotContains(t, page.Body, `class="badge-draft"`)
	require.NotContains(t, page.Body, noindex)
	require.Equal(t, http.StatusNotFound, anon.get(renewed).Status, "a published article's preview link is dead")
	require.NotContains(t, author.get("/profile/"+name+"?tab=drafts").Body, articlePath)

	// Back to draft: gone again, with a new link.
	require.Equal(t, slug, author.saveDraft(slug, form))
	require.Eventually(t, func() bool {
		for _, path := range public {
			if shows(anon, path) {
				return false
			}
		}
		return true
	}, 10*time.Second, 100*time.Millisecond, "unpublished: still shown")
	hidden("back to draft")
	again := author.previewPath(slug)
	require.NotEqual(t, renewed, again)
	require.Equal(t, http.StatusOK, anon.get(again).Status)
}
