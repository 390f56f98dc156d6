package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// getLang fetches a page with the browser's Accept-Language.
func (b *browser) getLang(path, accept string) page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, baseURL+path, nil)
	require.NoError(b.t, err)
	req.Header.Set("Accept-Language", accept)
	return b.do(req)
}

func TestKoreanByAcceptLanguage(t *testing.T) {
	t.Parallel()
	b := newBrowser(t)
	p := b.getLang("/", "ko-KR,ko;q=0.9,en;q=0.8")
	require.Equal(t, http.StatusOK, p.Status)
	require.Contains(t, p.Body, `<html lang="ko">`)
	require.Contains(t, p.Body, "전체 피드")
	require.Contains(t, p.Body, ">로그인<")
	require.Contains(t, p.Body, `class="cat cat-science" href="/?category=science">과학</a>`, "category names too")
	require.NotContains(t, p.Body, "Global feed")
	require.Contains(t, p.Header.Get("Vary"), "Accept-Language")

	p = b.getLang("/", "en-US,en;q=0.9,ko;q=0.5")
	require.Contains(t, p.Body, `<html lang="en">`)
	require.Contains(t, p.Body, "Global feed")
	p = b.getLang("/", "de-DE")
	require.Contains(t, p.Body, `<html lang="en">`, "neither language wanted: English")

	// Error pages speak the language too.
	p = b.getLang("/no/such/page", "ko")
	require.Equal(t, http.StatusNotFound, p.Status)
	require.Contains(t, p.Body, "페이지를 찾을 수 없습니다")
}

func TestLanguageSwitcherRemembersTheChoice(t *testing.T) {
	t.Parallel()
	b := newBrowser(t)
	require.Contains(t, b.getLang("/login", "ko").Body, `<html lang="ko">`)

	// The switcher is a form: without its CSRF token nothing changes.
	p := b.postRaw("/lang", url.Values{"lang": {"en"}, "next": {"/login"}})
	require.Equal(t, http.StatusForbidden, p.Status)
	require.Contains(t, b.getLang("/login", "ko").Body, `<html lang="ko">`, "a refused switch changes nothing")

	p = b.post("/lang", url.Values{"lang": {"en"}, "next": {"/login?next=%2Fsettings"}})
	require.Equal(t, http.StatusSeeOther, p.Status)
	require.Equal(t, "/login?next=%2Fsettings", p.Header.Get("Location"))
	var cookie string
	for _, c := range p.Header.Values("Set-Cookie") {
		if strings.HasPrefix(c, "tungsten_lang=") {
			cookie = c
		}
	}
	require.Contains(t, cookie, "tungsten_lang=en")
	require.Contains(t, cookie, "SameSite=Lax")
	require.Contains(t, cookie, "HttpOnly")
	require.Contains(t, cookie, "Max-Age=")

	// The choice beats Accept-Language on every page after.
	for _, path := range []string{"/", "/login", "/register", "/search?q=x"} {
		p = b.getLang(path, "ko")
		require.Contains(t, p.Body, `<html lang="en">`, path)
	}
	b.post("/lang", url.Values{"lang": {"ko"}, "next": {"/"}})
	require.Contains(t, b.getLang("/", "en").Body, `<html lang="ko">`)

	// On a page answering a form (a POST), the switcher returns to the
	// form's page, not to the POST's route.
	req, _ := http.NewRequest(http.MethodPost, baseURL+"/login", strings.NewReader(url.Values{
		"csrf": {b.csrf()}, "email": {"nobody@example.com"}, "password": {"wrong-password"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Referer", baseURL+"/login?next=%2Fsettings")
	p = b.do(req)
	require.Contains(t, p.Body, `<input type="hidden" name="next" value="/login?next=%2Fsettings">`+"\n"+`<button type="submit" name="lang" value="ko"`)
	req, _ = http.NewRequest(http.MethodPost, baseURL+"/login", strings.NewReader(url.Values{"csrf": {b.csrf()}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Referer", "https://evil.example/login")
	require.Contains(t, b.do(req).Body, `<input type="hidden" name="next" value="/">`+"\n"+`<button type="submit" name="lang" value="ko"`, "another site's page is not ours")

	// Off-site next and unknown languages change nothing dangerous.
	p = b.post("/lang", url.Values{"lang": {"fr"}, "next": {"//evil.example/"}})
	require.Equal(t, http.StatusSeeOther, p.Status)
	require.Equal(t, "/", p.Header.Get("Location"))
	for _, c := range p.Header.Values("Set-Cookie") {
		require.False(t, strings.HasPrefix(c, "tungsten_lang="), "no cookie for an unknown language: %s", c)
	}
	require.Contains(t, b.getLang("/", "en").Body, `<html lang="ko">`, "the earlier choice stays")
}

func TestArticlePageIsLocalized(t *testing.T) {
	t.Parallel()
	b := newBrowser(t)
	b.signUp()
	body := strings.Repeat("프로메테우스와 그라파나로 모니터링을 구축했습니다. ", 60) // 1,200 syllables: 3 minutes
	slug := b.publish("모니터링 구축기", body)

	ko := b.getLang("/article/"+url.PathEscape(slug), "ko").Body
	require.Contains(t, ko, "3분 읽기")
	require.Regexp(t, `\d{4}년 \d{1,2}월 \d{1,2}일`, ko)
	require.Contains(t, ko, "댓글 (0)")
	require.Contains(t, ko, "글 수정")

	en := b.getLang("/article/"+url.PathEscape(slug), "en").Body
	require.Contains(t, en, "3 min read")
	require.Regexp(t, `(January|February|March|April|May|June|July|August|September|October|November|December) \d{1,2}, \d{4}`, en)
	require.Contains(t, en, "Comments (0)")

	// Validation errors from the API are shown in the page's language.
	req, _ := http.NewRequest(http.MethodPost, baseURL+"/editor", strings.NewReader(url.Values{
		"csrf": {b.csrf()}, "title": {""}, "description": {"d"}, "body": {"b"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept-Language", "ko")
	p := b.do(req)
	require.Equal(t, http.StatusUnprocessableEntity, p.Status)
	require.Contains(t, p.Body, "제목 항목을 입력하세요.")
}
