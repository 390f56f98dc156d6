package web_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"
)

// publicURL is --web.public-url of the test process (TestMain): every
// absolute URL the UI writes starts with it, whatever Host the test sends.
const publicURL = "https://blog.example.com"

// publishWith writes an article with the given tags and category through
// the editor and returns its slug.
func (b *browser) publishWith(title, description, body, tags, category string) string {
	b.t.Helper()
	p := b.post("/editor", url.Values{"title": {title}, "description": {description}, "body": {body}, "tags": {tags}, "category": {category}})
	require.Equal(b.t, http.StatusSeeOther, p.Status, p.Body)
	slug, err := url.PathUnescape(strings.TrimPrefix(p.Header.Get("Location"), "/article/"))
	require.NoError(b.t, err)
	return slug
}

// --- a small strict validator of the feeds ---------------------------------------------
//
// github.com/mmcdole/gofeed is the usual parser, but the module proxy here
// serves it only from an unapproved copy, so the feeds are checked by a
// validator of their own: a strict XML parse (UTF-8, well-formed), every
// element known for its parent, the required ones present, dates in the
// formats the specs name and every link absolute under the public URL.

type xnode struct {
	name  xml.Name
	attrs map[string]string
	text  string
	kids  []*xnode
}

func (n *xnode) all(local string) []*xnode {
	var out []*xnode
	for _, k := range n.kids {
		if k.name.Local == local {
			out = append(out, k)
		}
	}
	return out
}

func (n *xnode) one(t testing.TB, local string) *xnode {
	t.Helper()
	ks := n.all(local)
	require.Len(t, ks, 1, "<%s> needs exactly one <%s>", n.name.Local, local)
	return ks[0]
}

// parseXML decodes a document strictly into a tree; the text of an element
// is its character data, entities resolved.
func parseXML(t testing.TB, body string) *xnode {
	t.Helper()
	require.True(t, strings.HasPrefix(body, `<?xml version="1.0" encoding="UTF-8"?>`), "an XML declaration naming UTF-8")
	d := xml.NewDecoder(strings.NewReader(body))
	d.Strict = true
	var stack []*xnode
	var root *xnode
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		require.NoError(t, err, "well-formed XML")
		switch tok := tok.(type) {
		case xml.StartElement:
			n := &xnode{name: tok.Name, attrs: map[string]string{}}
			for _, a := range tok.Attr {
				key := a.Name.Local
				if a.Name.Space != "" && a.Name.Space != "xmlns" {
					key = a.Name.Space + " " + key
				}
				n.attrs[key] = a.Value
			}
			if len(stack) == 0 {
				require.Nil(t, root, "one root element")
				root = n
			} else {
				p := stack[len(stack)-1]
				p.kids = append(p.kids, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text += string(tok)
			}
		}
	}
	require.NotNil(t, root)
	return root
}

// schema is, per element, the children it may have and how many: "1"
// exactly one, "?" at most one, "*" any number.
type schema map[string]map[string]string

func (s schema) check(t testing.TB, n *xnode) {
	t.Helper()
	allowed, ok := s[n.name.Local]
	if !ok {
		require.Empty(t, n.kids, "<%s> has no children", n.name.Local)
		return
	}
	counts := map[string]int{}
	for _, k := range n.kids {
		_, ok := allowed[k.name.Local]
		require.True(t, ok, "<%s> may not contain <%s>", n.name.Local, k.name.Local)
		counts[k.name.Local]++
		s.check(t, k)
	}
	for name, c := range allowed {
		switch c {
		case "1":
			require.Equal(t, 1, counts[name], "<%s> needs exactly one <%s>", n.name.Local, name)
		case "?":
			require.LessOrEqual(t, counts[name], 1, "<%s> has at most one <%s>", n.name.Local, name)
		}
	}
}

// RSS 2.0 with the atom:link and dc:creator extensions.
var rssSchema = schema{
	"rss":     {"channel": "1"},
	"channel": {"title": "1", "link": "1", "description": "1", "language": "?", "lastBuildDate": "?", "generator": "?", "link ": "*", "item": "*"},
	"item":    {"title": "1", "link": "1", "description": "1", "creator": "1", "category": "*", "guid": "1", "pubDate": "1"},
}

// Atom 1.0 (RFC 4287), the elements we write.
var atomSchema = schema{
	"feed":   {"title": "1", "subtitle": "?", "id": "1", "updated": "1", "link": "*", "generator": "?", "entry": "*"},
	"entry":  {"title": "1", "id": "1", "link": "*", "published": "?", "updated": "1", "author": "*", "category": "*", "summary": "?"},
	"author": {"name": "1", "uri": "?"},
}

func requirePublicURL(t testing.TB, s string) {
	t.Helper()
	u, err := url.Parse(s)
	require.NoError(t, err, s)
	require.Equal(t, "https", u.Scheme, s)
	require.Equal(t, "blog.example.com", u.Host, s)
}

// feedEntry is an item or an entry, read the same way from both formats.
type feedEntry struct {
	Title, Link, Summary, Author string
	Categories                   []string
}

type parsedFeed struct {
	Title, Self string
	Entries     []feedEntry
}

func (f parsedFeed) titles() []string {
	var out []string
	for _, e := range f.Entries {
		out = append(out, e.Title)
	}
	return out
}

// parseRSS validates an RSS 2.0 document and reads it.
func parseRSS(t testing.TB, body string) parsedFeed {
	t.Helper()
	root := parseXML(t, body)
	require.Equal(t, "rss", root.name.Local)
	require.Equal(t, "2.0", root.attrs["version"])
	// The schema's "link " is atom:link, told apart from RSS's <link> by its namespace.
	ch := root.one(t, "channel")
	var plain, atom []*xnode
	for _, k := range ch.all("link") {
		if k.name.Space == "http://www.w3.org/2005/Atom" {
			atom = append(atom, k)
			k.name.Local = "link "
		} else {
			plain = append(plain, k)
		}
	}
	rssSchema.check(t, root)
	require.Len(t, plain, 1)
	require.Len(t, atom, 1, "an atom:link to itself")
	requirePublicURL(t, plain[0].text)
	require.Equal(t, "self", atom[0].attrs["rel"])
	requirePublicURL(t, atom[0].attrs["href"])
	require.NotEmpty(t, ch.one(t, "title").text)
	require.NotEmpty(t, ch.one(t, "description").text)
	_, err := time.Parse(time.RFC1123Z, ch.one(t, "lastBuildDate").text)
	require.NoError(t, err, "lastBuildDate is RFC 1123 with a numeric zone")
	f := parsedFeed{Title: ch.one(t, "title").text, Self: atom[0].attrs["href"]}
	for _, it := range ch.all("item") {
		_, err := time.Parse(time.RFC1123Z, it.one(t, "pubDate").text)
		require.NoError(t, err, "pubDate is RFC 1123 with a numeric zone")
		link := it.one(t, "link").text
		requirePublicURL(t, link)
		guid := it.one(t, "guid")
		require.Equal(t, "true", guid.attrs["isPermaLink"])
		require.Equal(t, link, guid.text)
		creator := it.one(t, "creator")
		require.Equal(t, "http://purl.org/dc/elements/1.1/", creator.name.Space)
		e := feedEntry{Title: it.one(t, "title").text, Link: link, Summary: it.one(t, "description").text, Author: creator.text}
		for _, c := range it.all("category") {
			e.Categories = append(e.Categories, c.text)
		}
		f.Entries = append(f.Entries, e)
	}
	require.LessOrEqual(t, len(f.Entries), 20, "feeds are bounded")
	return f
}

// parseAtom validates an Atom 1.0 document and reads it.
func parseAtom(t testing.TB, body string) parsedFeed {
	t.Helper()
	root := parseXML(t, body)
	require.Equal(t, xml.Name{Space: "http://www.w3.org/2005/Atom", Local: "feed"}, root.name)
	atomSchema.check(t, root)
	require.NotEmpty(t, root.attrs["http://www.w3.org/XML/1998/namespace lang"], "xml:lang")
	_, err := time.Parse(time.RFC3339, root.one(t, "updated").text)
	require.NoError(t, err, "updated is RFC 3339")
	requirePublicURL(t, root.one(t, "id").text)
	f := parsedFeed{Title: root.one(t, "title").text}
	rels := map[string]string{}
	for _, l := range root.all("link") {
		rels[l.attrs["rel"]] = l.attrs["href"]
	}
	requirePublicURL(t, rels["self"])
	requirePublicURL(t, rels["alternate"])
	f.Self = rels["self"]
	for _, en := range root.all("entry") {
		for _, name := range []string{"published", "updated"} {
			_, err := time.Parse(time.RFC3339, en.one(t, name).text)
			require.NoError(t, err, "%s is RFC 3339", name)
		}
		// Atom needs an author per entry when the feed names none.
		authors := en.all("author")
		require.Len(t, authors, 1)
		requirePublicURL(t, authors[0].one(t, "uri").text)
		links := en.all("link")
		require.Len(t, links, 1)
		require.Equal(t, "alternate", links[0].attrs["rel"])
		link := links[0].attrs["href"]
		requirePublicURL(t, link)
		require.Equal(t, link, en.one(t, "id").text)
		e := feedEntry{Title: en.one(t, "title").text, Link: link, Summary: en.one(t, "summary").text, Author: authors[0].one(t, "name").text}
		for _, c := range en.all("category") {
			require.NotEmpty(t, c.attrs["term"])
			e.Categories = append(e.Categories, c.attrs["term"])
		}
		f.Entries = append(f.Entries, e)
	}
	require.LessOrEqual(t, len(f.Entries), 20, "feeds are bounded")
	return f
}

// getFeed fetches one feed in both formats, checks their headers and that
// both say the same, and returns the RSS reading.
func (b *browser) getFeed(prefix string) parsedFeed {
	b.t.Helper()
	t := b.t
	var got []parsedFeed
	for _, f := range []struct {
		file, mime string
		parse      func(testing.TB, string) parsedFeed
	}{{"rss.xml", "application/rss+xml", parseRSS}, {"atom.xml", "application/atom+xml", parseAtom}} {
		p := b.get(prefix + "/" + f.file)
		require.Equal(t, http.StatusOK, p.Status, "%s/%s: %s", prefix, f.file, p.Body)
		require.Equal(t, f.mime+"; charset=utf-8", p.Header.Get("Content-Type"))
		require.Equal(t, "nosniff", p.Header.Get("X-Content-Type-Options"))
		require.Equal(t, "public, max-age=300", p.Header.Get("Cache-Control"))
		require.NotEmpty(t, p.Header.Get("ETag"))
		require.Empty(t, p.Header.Values("Set-Cookie"), "feeds set no cookie")
		pf := f.parse(t, p.Body)
		require.Equal(t, publicURL+prefix+"/"+f.file, pf.Self)
		got = append(got, pf)
	}
	require.Equal(t, got[0].Entries, got[1].Entries, "RSS and Atom hold the same entries")
	return got[0]
}

// feedWith polls a feed until it satisfies ok: feeds are anonymous reads,
// which the blog may serve from a cache up to --blog.cache-staleness (1 s)
// after another user's write (ADR 0012).
func (b *browser) feedWith(prefix string, ok func(parsedFeed) bool) parsedFeed {
	b.t.Helper()
	var f parsedFeed
	require.Eventually(b.t, func() bool {
		f = b.getFeed(prefix)
		return ok(f)
	}, 10*time.Second, 100*time.Millisecond, "%s: %v", prefix, f.titles())
	return f
}

func hasTitles(titles ...string) func(parsedFeed) bool {
	return func(f parsedFeed) bool {
		for _, t := range titles {
			if _, ok := entryTitled(f, t); !ok {
				return false
			}
		}
		return true
	}
}

func entryTitled(f parsedFeed, title string) (feedEntry, bool) {
	for _, e := range f.Entries {
		if e.Title == title {
			return e, true
		}
	}
	return feedEntry{}, false
}

func TestFeedsHoldTheNewestArticlesEscaped(t *testing.T) {
	t.Parallel()
	b := newBrowser(t)
	name := b.signUp()
	hostile := `<script>alert("x")</script> Tom & Jerry ` + name
	korean := "프로메테우스와 그라파나로 모니터링 구축기 " + name
	slugHostile := b.publishWith(hostile, "a & b <i>not html</i>", "body", "feeds", "technology")
	slugKorean := b.publishWith(korean, "분산 추적은 예거를 사용합니다.", "본문", "모니터링", "technology")

	for _, prefix := range []string{"", "/profile/" + name} {
		f := b.feedWith(prefix, hasTitles(hostile, korean))
		if prefix != "" { // other tests publish to the site's feed meanwhile
			require.Equal(t, []string{korean, hostile}, f.titles(), "newest first")
		}
		e, ok := entryTitled(f, hostile)
		require.True(t, ok, "%s: the title with markup survives as text: %v", prefix, f.titles())
		require.Equal(t, "a & b <i>not html</i>", e.Summary)
		require.Equal(t, publicURL+"/article/"+url.PathEscape(slugHostile), e.Link)
		require.Equal(t, name, e.Author)
		require.Equal(t, []string{"Technology", "feeds"}, e.Categories, "the category, then the tags")
		k, _ := entryTitled(f, korean)
		require.Equal(t, "분산 추적은 예거를 사용합니다.", k.Summary)
		require.Equal(t, publicURL+"/article/"+url.PathEscape(slugKorean), k.Link)
	}
	// On the wire: escaped markup, Korean as UTF-8 (not as character references).
	raw := b.get("/profile/" + name + "/rss.xml").Body
	require.NotContains(t, raw, "<script>")
	require.Contains(t, raw, "&lt;script&gt;")
	require.Contains(t, raw, "Tom &amp; Jerry")
	require.Contains(t, raw, korean)
	raw = b.get("/profile/" + name + "/atom.xml").Body
	require.NotContains(t, raw, "<script>")
	require.Contains(t, raw, korean)

	// The channel speaks the reader's language.
	p := b.getLang("/profile/"+name+"/rss.xml", "ko")
	require.Equal(t, name+"님의 글 · Tungsten", parseRSS(t, p.Body).Title)
	require.Contains(t, p.Header.Get("Vary"), "Accept-Language")
}

func TestScopedFeedsHoldOnlyTheirArticles(t *testing.T) {
	t.Parallel()
	alice, bob := newBrowser(t), newBrowser(t)
	aliceName := alice.signUp()
	tag := "쿠버네티스 " + bob.signUp() // Hangul and a space: escaped in the path
	alice.publishWith("Alice travels", "d", "b", tag+", trips", "travel")
	alice.publishWith("Alice cooks", "d", "b", "kitchen", "food")
	bob.publishWith("Bob travels", "d", "b", tag+", trips", "travel")

	f := alice.feedWith("/profile/"+aliceName, hasTitles("Alice travels", "Alice cooks"))
	require.ElementsMatch(t, []string{"Alice travels", "Alice cooks"}, f.titles())
	for _, e := range f.Entries {
		require.Equal(t, aliceName, e.Author)
	}

	f = alice.feedWith("/tag/"+url.PathEscape(tag), hasTitles("Alice travels", "Bob travels"))
	require.ElementsMatch(t, []string{"Alice travels", "Bob travels"}, f.titles())
	require.Equal(t, "Articles tagged #"+tag+" · Tungsten", f.Title)
	for _, e := range f.Entries {
		require.Contains(t, e.Categories, tag)
	}

	f = alice.feedWith("/category/travel", hasTitles("Alice travels", "Bob travels"))
	require.Equal(t, "Articles in Travel · Tungsten", f.Title)
	_, ok := entryTitled(f, "Bob travels")
	require.True(t, ok, f.titles())
	_, ok = entryTitled(f, "Alice cooks")
	require.False(t, ok, "a food article is not in the travel feed")
	for _, e := range f.Entries {
		require.Equal(t, "Travel", e.Categories[0], "every entry is in the category")
	}

	// An author or a category that does not exist is not an empty feed.
	for _, path := range []string{"/profile/no-such-user-xyz/rss.xml", "/category/no-such-category/atom.xml"} {
		require.Equal(t, http.StatusNotFound, alice.get(path).Status, path)
	}
}

func TestFeedsAnswerConditionalRequests(t *testing.T) {
	t.Parallel()
	b := newBrowser(t)
	name := b.signUp()
	b.publishWith("Conditional", "d", "b", "x", "science")
	b.feedWith("/profile/"+name, hasTitles("Conditional"))
	p := b.get("/profile/" + name + "/atom.xml")
	require.Equal(t, http.StatusOK, p.Status)
	etag, modified := p.Header.Get("ETag"), p.Header.Get("Last-Modified")
	require.NotEmpty(t, etag)
	_, err := http.ParseTime(modified)
	require.NoError(t, err, "Last-Modified is the newest article's update")

	req, _ := http.NewRequest(http.MethodGet, baseURL+"/profile/"+name+"/atom.xml", nil)
	req.Header.Set("If-None-Match", etag)
	require.Equal(t, http.StatusNotModified, b.do(req).Status)

	b.publishWith("Conditional two", "d", "b", "x", "science")
	require.Eventually(t, func() bool {
		req, _ = http.NewRequest(http.MethodGet, baseURL+"/profile/"+name+"/atom.xml", nil)
		req.Header.Set("If-None-Match", etag)
		p = b.do(req)
		return p.Status == http.StatusOK
	}, 10*time.Second, 100*time.Millisecond, "a new article changes the feed")
	require.NotEqual(t, etag, p.Header.Get("ETag"))
	require.Contains(t, p.Body, "Conditional two")
}

// alternates are a page's <link rel="alternate"> feeds, as type → hrefs.
func alternates(t testing.TB, body string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	z := html.NewTokenizer(strings.NewReader(body))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			return out
		}
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			continue
		}
		tok := z.Token()
		if tok.Data != "link" || attr(tok, "rel") != "alternate" {
			continue
		}
		require.NotEmpty(t, attr(tok, "title"), "a feed link has a title")
		out[attr(tok, "type")] = append(out[attr(tok, "type")], attr(tok, "href"))
	}
}

func attr(tok html.Token, key string) string {
	for _, a := range tok.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func TestPagesLinkTheirFeeds(t *testing.T) {
	t.Parallel()
	b := newBrowser(t)
	name := b.signUp()
	slug := b.publishWith("Linked feeds", "d", "b", "linked", "culture")
	site := []string{publicURL + "/rss.xml", publicURL + "/atom.xml"}
	for _, tc := range []struct {
		path   string
		scoped string // the page's own feed, before the site's
	}{
		{"/", ""},
		{"/?tag=linked", "/tag/linked"},
		{"/?category=culture", "/category/culture"},
		{"/profile/" + name, "/profile/" + name},
		{"/article/" + url.PathEscape(slug), "/profile/" + name},
		{"/login", ""},
	} {
		links := alternates(t, b.get(tc.path).Body)
		wantRSS, wantAtom := site[:1], site[1:]
		if tc.scoped != "" {
			wantRSS = []string{publicURL + tc.scoped + "/rss.xml", site[0]}
			wantAtom = []string{publicURL + tc.scoped + "/atom.xml", site[1]}
		}
		require.Equal(t, wantRSS, links["application/rss+xml"], tc.path)
		require.Equal(t, wantAtom, links["application/atom+xml"], tc.path)
		if tc.scoped != "" {
			b.feedWith(tc.scoped, hasTitles("Linked feeds")) // the link leads to a valid feed
		}
	}
}

// canonical is a page's <link rel="canonical">, or "".
func canonical(t testing.TB, body string) string {
	t.Helper()
	var hrefs []string
	z := html.NewTokenizer(strings.NewReader(body))
	for tt := z.Next(); tt != html.ErrorToken; tt = z.Next() {
		if tok := z.Token(); tok.Data == "link" && attr(tok, "rel") == "canonical" {
			hrefs = append(hrefs, attr(tok, "href"))
		}
	}
	require.LessOrEqual(t, len(hrefs), 1, "one canonical link at most")
	if len(hrefs) == 0 {
		return ""
	}
	return hrefs[0]
}

func TestEveryPageHasACanonicalURL(t *testing.T) {
	t.Parallel()
	b := newBrowser(t)
	name := b.signUp()
	slug := b.publishWith("Canonical article", "d", "b", "c", "health")
	for path, want := range map[string]string{
		"/":                                   "/",
		"/?page=1":                            "/",
		"/?tag=c&page=2&utm_source=x":         "/?page=2&tag=c",
		"/?category=health":                   "/?category=health",
		"/?feed=your":                         "/",
		"/search?q=go+lang":                   "/search?q=go+lang",
		"/search":                             "/search",
		"/login?next=%2Fsettings":             "/login",
		"/register":                           "/register",
		"/settings":                           "/settings",
		"/editor":                             "/editor",
		"/profile/" + name + "?tab=favorites": "/profile/" + name + "?tab=favorites",
		"/article/" + url.PathEscape(slug):    "/article/" + url.PathEscape(slug),
	} {
		p := b.get(path)
		require.Equal(t, http.StatusOK, p.Status, path)
		require.Equal(t, publicURL+want, canonical(t, p.Body), path)
	}
	// Not from the Host header: the configured URL wins.
	req, _ := http.NewRequest(http.MethodGet, baseURL+"/register", nil)
	req.Host = "evil.example"
	p := b.do(req)
	require.Equal(t, publicURL+"/register", canonical(t, p.Body))
	require.NotContains(t, p.Body, "evil.example")
	// An error page is not a page to index.
	require.Empty(t, canonical(t, b.get("/no/such/page").Body))
}

// meta reads a page's <meta property|name=key content>, every value.
func meta(t testing.TB, body, key string) []string {
	t.Helper()
	var out []string
	z := html.NewTokenizer(strings.NewReader(body))
	for tt := z.Next(); tt != html.ErrorToken; tt = z.Next() {
		if tok := z.Token(); tok.Data == "meta" && (attr(tok, "property") == key || attr(tok, "name") == key) {
			out = append(out, attr(tok, "content"))
		}
	}
	return out
}

// jsonLD is the text of every <script type="application/ld+json"> of a page.
func jsonLD(t testing.TB, body string) []string {
	t.Helper()
	var out []string
	z := html.NewTokenizer(strings.NewReader(body))
	in := false
	for tt := z.Next(); tt != html.ErrorToken; tt = z.Next() {
		switch tt {
		case html.StartTagToken:
			tok := z.Token()
			in = tok.Data == "script" && attr(tok, "type") == "application/ld+json"
		case html.TextToken:
			if in {
				out = append(out, string(z.Text()))
			}
		case html.EndTagToken:
			in = false
		}
	}
	return out
}

func TestArticlesHaveSharePreviewsAndStructuredData(t *testing.T) {
	t.Parallel()
	b := newBrowser(t)
	name := b.signUp()
	// A title that tries to close the JSON-LD script and run its own.
	title := `</script><script>alert(1)</script> 쿠버네티스 운영기 ` + name
	slug := b.publishWith(title, `설명 "따옴표" & <b>`, "쿠버네티스 클러스터를 운영하며 배운 것들.", "k8s, 운영", "technology")
	page := "/article/" + url.PathEscape(slug)
	p := b.get(page)
	require.Equal(t, http.StatusOK, p.Status)
	require.NotContains(t, p.Body, "<script>alert", "the title cannot open a script")
	require.Equal(t, 1, strings.Count(p.Body, "</script>")-strings.Count(p.Body, `<script src=`), "only the JSON-LD block closes a script")

	require.Equal(t, []string{"article"}, meta(t, p.Body, "og:type"))
	require.Equal(t, []string{title}, meta(t, p.Body, "og:title"))
	require.Equal(t, []string{publicURL + page}, meta(t, p.Body, "og:url"))
	require.Equal(t, []string{`설명 "따옴표" & <b>`}, meta(t, p.Body, "og:description"))
	require.Equal(t, []string{"Tungsten"}, meta(t, p.Body, "og:site_name"))
	require.Equal(t, []string{"en_US"}, meta(t, p.Body, "og:locale"))
	require.Equal(t, []string{publicURL + "/profile/" + name}, meta(t, p.Body, "article:author"))
	require.Equal(t, []string{"Technology"}, meta(t, p.Body, "article:section"))
	require.ElementsMatch(t, []string{"k8s", "운영"}, meta(t, p.Body, "article:tag"))
	require.Len(t, meta(t, p.Body, "article:published_time"), 1)
	require.Equal(t, []string{"summary"}, meta(t, p.Body, "twitter:card"))
	require.Equal(t, []string{title}, meta(t, p.Body, "twitter:title"))
	require.Equal(t, []string{`설명 "따옴표" & <b>`}, meta(t, p.Body, "twitter:description"))
	require.Equal(t, publicURL+page, canonical(t, p.Body))

	blocks := jsonLD(t, p.Body)
	require.Len(t, blocks, 1)
	var ld struct {
		Context          string `json:"@context"`
		Type             string `json:"@type"`
		Headline         string `json:"headline"`
		Description      string `json:"description"`
		DatePublished    string `json:"datePublished"`
		DateModified     string `json:"dateModified"`
		URL              string `json:"url"`
		MainEntityOfPage string `json:"mainEntityOfPage"`
		InLanguage       string `json:"inLanguage"`
		ArticleSection   string `json:"articleSection"`
		Author           struct {
			Type string `json:"@type"`
			Name string `json:"name"`
			URL  string `json:"url"`
		} `json:"author"`
	}
	var generic map[string]any
	require.NoError(t, json.Unmarshal([]byte(blocks[0]), &generic), "the block is JSON: %s", blocks[0])
	require.NoError(t, json.Unmarshal([]byte(blocks[0]), &ld))
	require.Equal(t, "https://schema.org", ld.Context)
	require.Equal(t, "BlogPosting", ld.Type)
	require.Equal(t, title, ld.Headline, "the title is intact inside the JSON")
	require.Equal(t, `설명 "따옴표" & <b>`, ld.Description)
	require.Equal(t, publicURL+page, ld.URL)
	require.Equal(t, publicURL+page, ld.MainEntityOfPage)
	require.Equal(t, "ko", ld.InLanguage, "the article is written in Korean")
	require.Equal(t, "Technology", ld.ArticleSection)
	require.Equal(t, "Person", ld.Author.Type)
	require.Equal(t, name, ld.Author.Name)
	require.Equal(t, publicURL+"/profile/"+name, ld.Author.URL)
	for _, d := range []string{ld.DatePublished, ld.DateModified} {
		_, err := time.Parse(time.RFC3339, d)
		require.NoError(t, err)
	}
	require.Contains(t, blocks[0], `\u003c/script\u003e`, "html/template escapes < in the script's JSON")

	// The CSP is the strict one: JSON-LD is a data block, which browsers do
	// not execute, so script-src 'self' needs no nonce or hash for it.
	csp := p.Header.Get("Content-Security-Policy")
	require.Contains(t, csp, "script-src 'self';")
	require.NotContains(t, csp, "unsafe-inline")

	// An English article says so; a Korean reader's page says ko_KR.
	slug = b.publishWith("Running Kubernetes in production", "lessons", "What we learned running clusters.", "", "")
	p = b.getLang("/article/"+url.PathEscape(slug), "ko")
	require.Equal(t, []string{"ko_KR"}, meta(t, p.Body, "og:locale"))
	blocks = jsonLD(t, p.Body)
	require.Len(t, blocks, 1)
	require.NoError(t, json.Unmarshal([]byte(blocks[0]), &ld))
	require.Equal(t, "en", ld.InLanguage)
	require.Empty(t, meta(t, p.Body, "article:section"), "no category, no section")
}

func TestSitemapAndRobots(t *testing.T) {
	t.Parallel()
	b := newBrowser(t)
	name := b.signUp()
	slug := b.publishWith("Sitemap article", "d", "b", "", "business")

	var p page
	require.Eventually(t, func() bool { // an anonymous read: see feedWith
		p = b.get("/sitemap.xml")
		return strings.Contains(p.Body, "/article/"+url.PathEscape(slug)+"<")
	}, 10*time.Second, 100*time.Millisecond)
	require.Equal(t, http.StatusOK, p.Status)
	require.Equal(t, "application/xml; charset=utf-8", p.Header.Get("Content-Type"))
	root := parseXML(t, p.Body)
	require.Equal(t, xml.Name{Space: "http://www.sitemaps.org/schemas/sitemap/0.9", Local: "urlset"}, root.name)
	schema{"urlset": {"url": "*"}, "url": {"loc": "1", "lastmod": "?"}}.check(t, root)
	urls := root.all("url")
	require.LessOrEqual(t, len(urls), 50000, "a sitemap holds 50,000 URLs at most")
	locs := map[string]bool{}
	for _, u := range urls {
		loc := u.one(t, "loc").text
		requirePublicURL(t, loc)
		require.False(t, locs[loc], "%s listed twice", loc)
		locs[loc] = true
		for _, m := range u.all("lastmod") {
			_, err := time.Parse(time.RFC3339, m.text)
			require.NoError(t, err)
		}
	}
	for _, want := range []string{"/", "/?category=business", "/article/" + url.PathEscape(slug), "/profile/" + name} {
		require.True(t, locs[publicURL+want], "the sitemap lists %s", want)
	}

	p = b.get("/robots.txt")
	require.Equal(t, http.StatusOK, p.Status)
	require.Equal(t, "text/plain; charset=utf-8", p.Header.Get("Content-Type"))
	require.Contains(t, p.Body, "User-agent: *\nAllow: /\n")
	require.Contains(t, p.Body, "\nSitemap: "+publicURL+"/sitemap.xml\n")
	require.True(t, bytes.HasSuffix([]byte(p.Body), []byte("\n")))
}
