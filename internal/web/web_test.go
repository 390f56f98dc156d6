package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPagesRenderForVisitors(t *testing.T) {
	t.Parallel()
	b := newBrowser(t)
	for _, path := range []string{"/", "/login", "/register", "/search?q=anything", "/search", "/static/style.css", "/categories.css"} {
		p := b.get(path)
		require.Equal(t, http.StatusOK, p.Status, path)
	}
	p := b.get("/")
	require.Contains(t, p.Header.Get("Content-Security-Policy"), "script-src 'self'")
	require.NotContains(t, p.Header.Get("Content-Security-Policy"), "unsafe-inline")
	require.Contains(t, p.Body, `class="cat cat-technology"`, "category filters with their colour classes")

	// Signed-out visitors are sent to sign in, and come back afterwards.
	p = b.get("/editor")
	require.Equal(t, http.StatusSeeOther, p.Status)
	require.Equal(t, "/login?next=%2Feditor", p.Header.Get("Location"))
}

func TestNotFoundIsAFriendlyPage(t *testing.T) {
	t.Parallel()
	b := newBrowser(t)
	for _, path := range []string{"/no/such/page", "/article/no-such-article", "/profile/no-such-user-xyz"} {
		p := b.get(path)
		require.Equal(t, http.StatusNotFound, p.Status, path)
		require.Contains(t, p.Header.Get("Content-Type"), "text/html")
		require.Contains(t, p.Body, "Page not found")
		require.Contains(t, p.Body, `href="/"`)
	}
	require.Equal(t, http.StatusNotFound, b.postRaw("/no/such/form", nil).Status, "unknown paths are 404 for POST too")
}

func TestCSRFTokenIsRequired(t *testing.T) {
	t.Parallel()
	b := newBrowser(t)
	name := b.signUp()
	slug := b.publish("CSRF target", "body")

	for _, form := range []url.Values{
		{"body": {"no token"}},
		{"body": {"wrong token"}, "csrf": {"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}},
	} {
		p := b.postRaw("/article/"+slug+"/comments", form)
		require.Equal(t, http.StatusForbidden, p.Status)
		require.Contains(t, p.Body, "This form has expired")
	}
	// Without a CSRF cookie at all (a cross-site form in a fresh browser).
	fresh := newBrowser(t)
	p := fresh.postRaw("/login", url.Values{"email": {name + "@example.com"}, "password": {"password123"}, "csrf": {"x"}})
	require.Equal(t, http.StatusForbidden, p.Status)
	// A foreign Origin is refused even with the right token.
	req, _ := http.NewRequest(http.MethodPost, baseURL+"/logout", strings.NewReader("csrf="+b.csrf()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	require.Equal(t, http.StatusForbidden, b.do(req).Status)

	require.NotContains(t, b.get("/article/"+slug).Body, "no token", "nothing was posted")
}

func TestSessionCookieFlags(t *testing.T) {
	t.Parallel()
	b := newBrowser(t)
	name := fmt.Sprintf("c%d", userSeq.Add(1))
	// Behind TLS (a trusted proxy says https): the CSRF cookie is __Host- and
	// Secure, the session cookie Secure, and HSTS is on. The jar does not send
	// Secure cookies over http, so the cookies travel by hand here.
	req, _ := http.NewRequest(http.MethodGet, baseURL+"/register", nil)
	req.Header.Set("X-Forwarded-Proto", "https")
	p := b.do(req)
	require.Equal(t, http.StatusOK, p.Status)
	require.Contains(t, p.Header.Get("Strict-Transport-Security"), "max-age=")
	var csrfCookie *http.Cookie
	for _, c := range (&http.Response{Header: p.Header}).Cookies() {
		if c.Name == "__Host-tungsten_csrf" {
			csrfCookie = c
		}
	}
	require.NotNil(t, csrfCookie, "the CSRF cookie over TLS has the __Host- prefix: %v", p.Header.Values("Set-Cookie"))
	require.True(t, csrfCookie.Secure)
	require.Equal(t, "/", csrfCookie.Path)
	require.Empty(t, csrfCookie.Domain)
	token := csrfMeta.FindStringSubmatch(p.Body)[1]
	require.NotEqual(t, csrfCookie.Value, token, "the form token is bound to the session, not the cookie itself")

	form := url.Values{"username": {name}, "email": {name + "@example.com"}, "password": {"password123"}, "csrf": {token}}
	req, _ = http.NewRequest(http.MethodPost, baseURL+"/register", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-Proto", "https")
	req.AddCookie(csrfCookie)
	p = (&browser{t: t, c: &http.Client{CheckRedirect: b.c.CheckRedirect}}).do(req)
	require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
	var session string
	for _, c := range p.Header.Values("Set-Cookie") {
		if strings.HasPrefix(c, "tungsten_session=") {
			session = c
		}
	}
	require.NotEmpty(t, session)
	require.Contains(t, session, "HttpOnly")
	require.Contains(t, session, "SameSite=Lax")
	require.Contains(t, session, "Secure")
	require.Contains(t, session, "Path=/")

	// Over plain HTTP the cookie cannot be Secure (the browser would drop it).
	p = b.post("/login", url.Values{"email": {name + "@example.com"}, "password": {"password123"}})
	require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
	set := strings.Join(p.Header.Values("Set-Cookie"), "\n")
	require.Contains(t, set, "tungsten_session=")
	require.NotContains(t, set, "Secure")

	// Signing out clears it and really ends the session.
	require.Equal(t, http.StatusOK, b.get("/settings").Status)
	p = b.post("/logout", nil)
	require.Equal(t, http.StatusSeeOther, p.Status)
	require.Contains(t, strings.Join(p.Header.Values("Set-Cookie"), "\n"), "tungsten_session=; Path=/; Max-Age=0")
	require.Equal(t, http.StatusSeeOther, b.get("/settings").Status)
}

func TestInvalidSessionCookieSignsOut(t *testing.T) {
	t.Parallel()
	b := newBrowser(t)
	req, _ := http.NewRequest(http.MethodGet, baseURL+"/", nil)
	req.AddCookie(&http.Cookie{Name: "tungsten_session", Value: "eyJhbGciOiJFZERTQSJ9.forged.token"})
	p := b.do(req)
	require.Equal(t, http.StatusOK, p.Status)
	require.Contains(t, p.Body, "Sign in")
	require.Contains(t, strings.Join(p.Header.Values("Set-Cookie"), "\n"), "tungsten_session=; Path=/; Max-Age=0")
}

func TestUserContentIsEscaped(t *testing.T) {
	t.Parallel()
	b := newBrowser(t)
	name := b.signUp()
	const xss = `<script>alert("x")</script><img src=x onerror=alert(1)>`
	slug := b.publish("Title "+xss, "plain body")
	p := b.post("/article/"+slug+"/comments", url.Values{"body": {"comment " + xss}})
	require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
	// A javascript: picture URL is refused next to its field, the rest kept.
	p = b.post("/settings", url.Values{"username": {name}, "email": {name + "@example.com"}, "bio": {"bio " + xss}, "image": {"javascript:alert(1)"}})
	require.Equal(t, http.StatusUnprocessableEntity, p.Status)
	require.Contains(t, p.Body, `<div id="image-err"><p class="field-error" role="alert">image is invalid`)
	p = b.post("/settings", url.Values{"username": {name}, "email": {name + "@example.com"}, "bio": {"bio " + xss}, "image": {""}})
	require.Equal(t, http.StatusSeeOther, p.Status, p.Body)

	for _, path := range []string{"/article/" + url.PathEscape(slug), "/profile/" + name, "/", "/settings"} {
		body := b.get(path).Body
		require.NotContains(t, body, "<script>alert", path)
		require.NotContains(t, body, "<img src=x", path)
		require.NotContains(t, body, `src="javascript:`, path)
	}
	require.Contains(t, b.get("/article/"+url.PathEscape(slug)).Body, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;")
	require.Contains(t, b.get("/profile/"+name).Body, "bio &lt;script&gt;")
}

func TestMarkdownIsRenderedAndSanitized(t *testing.T) {
	t.Parallel()
	b := newBrowser(t)
	b.signUp()
	body := "# Heading\n\n**bold** and [ok](https://example.com) and [bad](javascript:alert(1))\n\n" +
		"<img src=x onerror=alert(1)>\n\n<script>alert(2)</script>\n\n<a href=\"javascript:alert(3)\">raw</a>\n\n" +
		"[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)\n"
	slug := b.publish("Markdown article", body)
	page := b.get("/article/" + url.PathEscape(slug)).Body
	_, prose, _ := strings.Cut(page, `<div class="prose">`)
	prose, _, _ = strings.Cut(prose, "</div>")
	require.Contains(t, prose, "<h1")
	require.Contains(t, prose, "<strong>bold</strong>")
	require.Contains(t, prose, `href="https://example.com"`)
	for _, bad := range []string{"javascript:", "onerror", "<script", "data:text/html"} {
		require.NotContains(t, strings.ToLower(prose), bad)
	}
}

func TestRedirectsStayOnTheSite(t *testing.T) {
	t.Parallel()
	b := newBrowser(t)
	name := b.signUp()
	b.post("/logout", nil)
	for _, next := range []string{"//evil.example/x", "https://evil.example/", "/\\evil.example", "http:/evil.example", "javascript:alert(1)", "/%2F%2Fevil.example", " //evil.example"} {
		p := b.post("/login", url.Values{"email": {name + "@example.com"}, "password": {"password123"}, "next": {next}})
		require.Equal(t, http.StatusSeeOther, p.Status, next)
		loc := p.Header.Get("Location")
		u, err := url.Parse(loc)
		require.NoError(t, err)
		require.Empty(t, u.Host, "next=%q redirected to %q", next, loc)
		require.True(t, strings.HasPrefix(loc, "/") && !strings.HasPrefix(loc, "//") && !strings.HasPrefix(loc, "/\\"), "next=%q redirected to %q", next, loc)
	}
	p := b.post("/login", url.Values{"email": {name + "@example.com"}, "password": {"password123"}, "next": {"/settings"}})
	require.Equal(t, "/settings", p.Header.Get("Location"))
}

func TestEditorKeepsInputAndShowsErrors(t *testing.T) {
	t.Parallel()
	b := newBrowser(t)
	b.signUp()
	p := b.post("/editor", url.Values{"title": {""}, "description": {"kept description"}, "body": {"kept body"}, "tags": {"a, b"}})
	require.Equal(t, http.StatusUnprocessableEntity, p.Status)
	require.Contains(t, p.Body, "title can&#39;t be blank")
	require.Contains(t, p.Body, `value="kept description"`)
	require.Contains(t, p.Body, "kept body")
	require.Contains(t, p.Body, `id="title" name="title" value="" maxlength="200" required aria-invalid="true"`)
}

func TestArticleLifecycle(t *testing.T) {
	t.Parallel()
	author := newBrowser(t)
	authorName := author.signUp()
	slug := author.publish("Lifecycle one", "hello")
	reader := newBrowser(t)
	reader.signUp()

	require.Equal(t, http.StatusSeeOther, reader.post("/article/"+slug+"/favorite", nil).Status)
	require.Equal(t, http.StatusSeeOther, reader.post("/profile/"+authorName+"/follow", nil).Status)
	require.Equal(t, http.StatusSeeOther, reader.post("/article/"+slug+"/comments", url.Values{"body": {"nice one"}}).Status)
	page := reader.get("/article/" + slug).Body
	require.Contains(t, page, "Unfavorite (1)")
	// Follows reach the blog's read model through events: poll briefly.
	require.Eventually(t, func() bool {
		return strings.Contains(reader.get("/article/"+slug).Body, "Unfollow "+authorName)
	}, 10*time.Second, 50*time.Millisecond)
	require.Eventually(t, func() bool {
		return strings.Contains(reader.get("/?feed=your").Body, "Lifecycle one")
	}, 10*time.Second, 50*time.Millisecond, "the article is in the follower's feed")
	require.Contains(t, page, "nice one")
	// Only the author may edit.
	require.Equal(t, http.StatusForbidden, reader.get("/editor/"+slug).Status)

	p := author.post("/editor/"+slug, url.Values{"title": {"Lifecycle two"}, "description": {"d"}, "body": {"b"}, "tags": {""}, "category": {"science"}})
	require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
	newSlug := strings.TrimPrefix(p.Header.Get("Location"), "/article/")
	require.NotEqual(t, slug, newSlug)
	require.Equal(t, http.StatusNotFound, author.get("/article/"+slug).Status)
	require.Contains(t, author.get("/?category=science").Body, "Lifecycle two")

	require.Equal(t, http.StatusSeeOther, author.post("/article/"+newSlug+"/delete", nil).Status)
	require.Equal(t, http.StatusNotFound, author.get("/article/"+newSlug).Status)
}

// Signing out in the UI revokes the session's token (ADR 0011): a copy of
// the cookie taken before (a stolen one) no longer signs anyone in, on the
// UI or on the API.
func TestAbuse_TokenLifecycle_WebSignOutRevokesTheToken(t *testing.T) {
	t.Parallel()
	b := newBrowser(t)
	b.signUp()
	u, _ := url.Parse(baseURL)
	var token string
	for _, c := range b.jar.Cookies(u) {
		if c.Name == "tungsten_session" {
			token = c.Value
		}
	}
	require.NotEmpty(t, token)
	stolen := newBrowser(t)
	stolen.jar.SetCookies(u, []*http.Cookie{{Name: "tungsten_session", Value: token}})
	require.Equal(t, http.StatusOK, stolen.get("/settings").Status, "the copied cookie works before the sign-out")

	require.Equal(t, http.StatusSeeOther, b.post("/logout", nil).Status)
	require.Eventually(t, func() bool { return stolen.get("/settings").Status == http.StatusSeeOther }, 5*time.Second, 10*time.Millisecond,
		"the copied cookie no longer signs in")
	req, _ := http.NewRequest(http.MethodGet, baseURL+"/api/user", nil)
	req.Header.Set("Authorization", "Token "+token)
	require.Equal(t, http.StatusUnauthorized, stolen.do(req).Status)
}
