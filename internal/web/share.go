package web

import (
	"net/http"
	"net/url"
	"strconv"
	"time"
	"unicode"
)

// pageHead is what a page says about itself in <head>: its canonical URL,
// its feeds and its share preview (OpenGraph, Twitter card, JSON-LD). Paths
// are the site's own ("/article/x"); render makes them absolute.
type pageHead struct {
	Canonical   string // path and query; empty: the request's path without its query
	Feeds       []feedLink
	Description string
	OGType      string // "website" unless set
	OGLocale    string
	Article     *ogArticle
	JSONLD      any // marshalled to JSON by html/template, which escapes "<" inside the script
	// NoIndex keeps the page out of search engines (drafts, preview links):
	// <meta name="robots" content="noindex">, and no canonical URL, feeds
	// or share preview, which would invite indexing and sharing.
	NoIndex bool
}

// ogArticle are the article:* properties of an article's preview.
type ogArticle struct {
	Published, Modified string // RFC 3339
	Author              string // the author's page
	Section             string
	Tags                []string
}

// blogPosting is the schema.org BlogPosting of an article page, in JSON-LD.
type blogPosting struct {
	Context          string       `json:"@context"`
	Type             string       `json:"@type"`
	Headline         string       `json:"headline"`
	Description      string       `json:"description,omitempty"`
	DatePublished    string       `json:"datePublished"`
	DateModified     string       `json:"dateModified"`
	Author           schemaPerson `json:"author"`
	URL              string       `json:"url"`
	MainEntityOfPage string       `json:"mainEntityOfPage"`
	InLanguage       string       `json:"inLanguage"`
	ArticleSection   string       `json:"articleSection,omitempty"`
	Keywords         []string     `json:"keywords,omitempty"`
}

type schemaPerson struct {
	Type string `json:"@type"`
	Name string `json:"name"`
	URL  string `json:"url"`
}

// completeHead fills in what every page's head has, for a page that
// answers a GET with 200: the canonical URL (every page has one), the
// site's feeds after the page's own, and absolute URLs. An error page or a
// form answered with its errors gets none of it.
func (s *Service) completeHead(r *http.Request, l *locale, h pageHead, status int) pageHead {
	if h.NoIndex {
		return pageHead{NoIndex: true}
	}
	if status != http.StatusOK || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		return pageHead{}
	}
	if h.Canonical == "" {
		h.Canonical = r.URL.EscapedPath()
	}
	h.Canonical = s.abs(r, h.Canonical)
	feeds := append(h.Feeds, feedLinks("", siteFeedTitle(l))...)
	h.Feeds = make([]feedLink, len(feeds))
	for i, f := range feeds {
		f.URL = s.abs(r, f.URL)
		h.Feeds[i] = f
	}
	if h.OGType == "" {
		h.OGType = "website"
	}
	h.OGLocale = "en_US"
	if l == localeKO {
		h.OGLocale = "ko_KR"
	}
	return h
}

// listCanonical is the canonical path of a list page: path with the
// query parameters that choose what it shows, and the page when not the first.
func listCanonical(path string, params url.Values, page int) string {
	v := url.Values{}
	for k, vs := range params {
		if len(vs) > 0 && vs[0] != "" {
			v.Set(k, vs[0])
		}
	}
	if page > 1 {
		v.Set("page", strconv.Itoa(page))
	}
	if len(v) == 0 {
		return path
	}
	return path + "?" + v.Encode()
}

// articleHead is an article page's head: its canonical URL, its author's
// feeds, the OpenGraph and Twitter preview and a BlogPosting.
func (s *Service) articleHead(r *http.Request, l *locale, a Article, cat *Category) pageHead {
	page := articleURL(a.Slug)
	published, modified := rfc3339(a.CreatedAt), rfc3339(a.UpdatedAt)
	if modified == "" {
		modified = published
	}
	author := s.abs(r, profilePath(a.Author.Username))
	h := pageHead{Canonical: page, Description: a.Description, OGType: "article",
		Feeds:   feedLinks(profilePath(a.Author.Username), authorFeedTitle(l, a.Author.Username)),
		Article: &ogArticle{Published: published, Modified: modified, Author: author, Tags: a.TagList}}
	body := ""
	if a.Body != nil {
		body = *a.Body
	}
	ld := blogPosting{Context: "https://schema.org", Type: "BlogPosting", Headline: a.Title, Description: a.Description,
		DatePublished: published, DateModified: modified, Author: schemaPerson{Type: "Person", Name: a.Author.Username, URL: author},
		URL: s.abs(r, page), MainEntityOfPage: s.abs(r, page), InLanguage: contentLanguage(a.Title + " " + a.Description + " " + body),
		Keywords: a.TagList}
	if cat != nil {
		h.Article.Section = l.CategoryName(*cat)
		ld.ArticleSection = h.Article.Section
	}
	h.JSONLD = ld
	return h
}

// rfc3339 normalizes an API timestamp; "" when it is not one.
func rfc3339(s string) string {
	t := apiTime(s)
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339)
}

// contentLanguage guesses the language of what a user wrote, for
// inLanguage: Korean when Hangul syllables are at least a third as many as
// Latin letters (a syllable is two or three letters' worth), English
// otherwise. The blog stores no language; these are the two the UI speaks.
func contentLanguage(text string) string {
	hangul, latin := 0, 0
	for _, r := range text {
		switch {
		case unicode.Is(unicode.Hangul, r):
			hangul++
		case unicode.Is(unicode.Latin, r):
			latin++
		}
	}
	if hangul > 0 && hangul*3 >= latin {
		return "ko"
	}
	return "en"
}
