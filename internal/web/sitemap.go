package web

import (
	"encoding/xml"
	"net/http"
	"net/url"
	"time"

	"github.com/tungsten-blog/tungsten/internal/platform/errs"
)

// sitemapArticles bounds the sitemap: the newest this many articles, with
// their authors' profiles, the home page and the category pages. A sitemap
// may hold 50,000 URLs; ours stays far below, so it is one file (no index)
// and costs a few list calls. Older articles are found by following the
// pages' links.
const sitemapArticles = 500

// sitemapPage is the page size the sitemap reads the list with: the blog's
// default largest limit (--blog.max-limit); perPage when it is set lower.
const sitemapPage = 100

type sitemapDoc struct {
	XMLName xml.Name     `xml:"http://www.sitemaps.org/schemas/sitemap/0.9 urlset"`
	URLs    []sitemapURL `xml:"url"`
}

type sitemapURL struct {
	Loc     string `xml:"loc"`
	LastMod string `xml:"lastmod,omitempty"`
}

// sitemap serves /sitemap.xml (https://www.sitemaps.org/protocol.html).
func (s *Service) sitemap(r *http.Request, _ *locale) (document, error) {
	arts, err := s.recentArticles(r, sitemapArticles)
	if err != nil {
		return document{}, err
	}
	var newest time.Time
	authors := map[string]time.Time{}
	var order []string
	for _, a := range arts {
		t := apiTime(a.UpdatedAt)
		if t.After(newest) {
			newest = t
		}
		u := a.Author.Username
		if _, ok := authors[u]; !ok {
			order = append(order, u)
		}
		if t.After(authors[u]) {
			authors[u] = t
		}
	}
	lastmod := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.Format(time.RFC3339)
	}
	doc := sitemapDoc{URLs: []sitemapURL{{Loc: s.abs(r, "/"), LastMod: lastmod(newest)}}}
	cats, _ := s.categories(r.Context())
	for _, c := range cats {
		doc.URLs = append(doc.URLs, sitemapURL{Loc: s.abs(r, "/?category="+url.QueryEscape(c.Slug))})
	}
	for _, a := range arts {
		doc.URLs = append(doc.URLs, sitemapURL{Loc: s.abs(r, articleURL(a.Slug)), LastMod: lastmod(apiTime(a.UpdatedAt))})
	}
	for _, u := range order {
		doc.URLs = append(doc.URLs, sitemapURL{Loc: s.abs(r, profilePath(u)), LastMod: lastmod(authors[u])})
	}
	body, err := encodeXML(doc)
	if err != nil {
		return document{}, err
	}
	return document{body: body, mime: "application/xml; charset=utf-8", modified: newest}, nil
}

// recentArticles reads the newest n articles of the public list.
func (s *Service) recentArticles(r *http.Request, n int) ([]Article, error) {
	var out []Article
	page := sitemapPage
	for len(out) < n {
		want := min(page, n-len(out))
		list, err := s.api.articles(r.Context(), "", ListQuery{Limit: want, Offset: len(out)})
		if err != nil && page > perPage && len(out) == 0 && errs.Is(err, errs.KindInvalid) {
			page = perPage // the blog allows smaller pages than ours
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, list.Articles...)
		if len(list.Articles) < want {
			break
		}
	}
	return out, nil
}

// robots serves /robots.txt: everything may be crawled, and the sitemap is
// named with its absolute URL, as the format requires.
func (s *Service) robots(r *http.Request, _ *locale) (document, error) {
	body := "User-agent: *\nAllow: /\n\nSitemap: " + s.abs(r, "/sitemap.xml") + "\n"
	return document{body: []byte(body), mime: "text/plain; charset=utf-8"}, nil
}
