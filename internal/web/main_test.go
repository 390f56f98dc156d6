package web_test

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tungsten-blog/tungsten/internal/app/apptest"
)

// baseURL is the embedded default started by TestMain: every service in one
// process, the web UI behind the gateway as in production.
var baseURL string

func TestMain(m *testing.M) {
	flag.Parse()
	// The tests stand in for a TLS-terminating load balancer on loopback
	// (X-Forwarded-Proto: https), so the gateway trusts loopback peers. The
	// public URL is not the address the tests dial: absolute URLs must come
	// from the flag, never from the request.
	inst, err := apptest.StartEmbedded("--gateway.trusted-proxies=127.0.0.0/8,::1/128", "--web.public-url="+publicURL)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	baseURL = inst.BaseURL
	code := m.Run()
	inst.Stop()
	os.Exit(code)
}

// browser is a cookie-keeping client that does not follow redirects, so
// tests see every Location.
type browser struct {
	t   testing.TB
	c   *http.Client
	jar *cookiejar.Jar
}

func newBrowser(t testing.TB) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, jar: jar, c: &http.Client{
		Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

type page struct {
	Status int
	Body   string
	Header http.Header
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.c.Do(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	return page{Status: resp.StatusCode, Body: string(body), Header: resp.Header}
}

func (b *browser) get(path string) page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, baseURL+path, nil)
	require.NoError(b.t, err)
	return b.do(req)
}

// csrf is the token the browser's forms carry: the CSRF cookie bound to the
// session, so it is read from a page (every page names it in a meta tag).
func (b *browser) csrf() string {
	b.t.Helper()
	p := b.get("/")
	m := csrfMeta.FindStringSubmatch(p.Body)
	if m == nil {
		b.t.Fatal("no CSRF token on the home page")
	}
	return m[1]
}

var csrfMeta = regexp.MustCompile(`<meta name="csrf-token" content="([^"]+)">`)

// post submits a form like a browser does, with the CSRF field.
func (b *browser) post(path string, form url.Values) page {
	b.t.Helper()
	form = cloneValues(form)
	form.Set("csrf", b.csrf())
	return b.postRaw(path, form)
}

func (b *browser) postRaw(path string, form url.Values) page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, baseURL+path, strings.NewReader(form.Encode()))
	require.NoError(b.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// userSeq numbers the users tests sign up; tests run in parallel.
var userSeq = func() *atomic.Int64 {
	var n atomic.Int64
	n.Store(time.Now().UnixNano())
	return &n
}()

// signUp registers a fresh user through the sign-up form and returns the name.
func (b *browser) signUp() string {
	b.t.Helper()
	name := fmt.Sprintf("u%d", userSeq.Add(1))
	p := b.post("/register", url.Values{"username": {name}, "email": {name + "@example.com"}, "password": {"password123"}})
	require.Equal(b.t, http.StatusSeeOther, p.Status, p.Body)
	return name
}

// publish writes an article through the editor and returns its slug.
func (b *browser) publish(title, body string) string {
	b.t.Helper()
	p := b.post("/editor", url.Values{"title": {title}, "description": {"about " + title}, "body": {body}, "tags": {"go, web"}, "category": {"technology"}})
	require.Equal(b.t, http.StatusSeeOther, p.Status, p.Body)
	loc := p.Header.Get("Location")
	require.True(b.t, strings.HasPrefix(loc, "/article/"), loc)
	slug, err := url.PathUnescape(strings.TrimPrefix(loc, "/article/"))
	require.NoError(b.t, err)
	return slug
}
