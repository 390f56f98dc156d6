package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Feeds: RSS 2.0 and Atom 1.0 of the site, of each author, tag and
// category, with the newest feedItems articles of the public list (what an
// anonymous reader sees). List rows carry no body, so items hold the
// title, the description and a link to the article.

// feedItems bounds every feed.
const feedItems = 20

// feedFormat is RSS or Atom: the file name a feed ends with and its type.
type feedFormat struct {
	name, file, mime string
	encode           func(feedData) any
}

const (
	rssType  = "application/rss+xml"
	atomType = "application/atom+xml"
)

var (
	formatRSS  = feedFormat{name: "RSS", file: "rss.xml", mime: rssType, encode: func(f feedData) any { return rssOf(f) }}
	formatAtom = feedFormat{name: "Atom", file: "atom.xml", mime: atomType, encode: func(f feedData) any { return atomOf(f) }}
	// feedFormats is every format, the one feed readers prefer first.
	feedFormats = []feedFormat{formatRSS, formatAtom}
)

// feedKind says which articles a feed holds; param is the route's wildcard.
type feedKind struct {
	prefix string // the feed's path before /rss.xml: "", "/profile/{username}", ...
	param  string
}

var (
	feedSite     = feedKind{prefix: ""}
	feedAuthor   = feedKind{prefix: "/profile/{username}", param: "username"}
	feedTag      = feedKind{prefix: "/tag/{tag}", param: "tag"}
	feedCategory = feedKind{prefix: "/category/{category}", param: "category"}
	feedKinds    = []feedKind{feedSite, feedAuthor, feedTag, feedCategory}
)

// feedLink is a <link rel="alternate"> of a page.
type feedLink struct {
	Type, Title, URL string
}

// feedLinks are the alternate links of the feed at prefix (a path such as
// "/tag/go", escaped; "" for the site), titled title, in every format.
func feedLinks(prefix, title string) []feedLink {
	out := make([]feedLink, 0, len(feedFormats))
	for _, f := range feedFormats {
		out = append(out, feedLink{Type: f.mime, Title: title + " (" + f.name + ")", URL: prefix + "/" + f.file})
	}
	return out
}

// The feed titles, in the reader's language.
func siteFeedTitle(l *locale) string { return l.T("brand") }
func authorFeedTitle(l *locale, username string) string {
	return l.T("feed.title.author", username) + " · " + l.T("brand")
}
func tagFeedTitle(l *locale, tag string) string {
	return l.T("feed.title.tag", tag) + " · " + l.T("brand")
}
func categoryFeedTitle(l *locale, name string) string {
	return l.T("feed.title.category", name) + " · " + l.T("brand")
}

func profilePath(username string) string  { return "/profile/" + url.PathEscape(username) }
func tagFeedPath(tag string) string       { return "/tag/" + url.PathEscape(tag) }
func categoryFeedPath(slug string) string { return "/category/" + url.PathEscape(slug) }

// feedData is a feed in neither format yet; every URL is absolute.
type feedData struct {
	Title, Description string
	Page, Self         string // the HTML page the feed follows, the feed itself
	Lang               string
	Updated            time.Time
	Items              []feedItem
}

type feedItem struct {
	Title, Description, URL string
	Author, AuthorURL       string
	Categories              []string
	Published, Updated      time.Time
}

// feed serves one kind of feed in one format.
func (s *Service) feed(kind feedKind, format feedFormat) http.Handler {
	return s.public(func(r *http.Request, l *locale) (document, error) {
		src, err := s.feedSource(r, l, kind)
		if err != nil {
			return document{}, err
		}
		list, err := s.api.articles(r.Context(), "", src.query)
		if err != nil {
			return document{}, err
		}
		d := feedData{Title: src.title, Description: src.description, Page: s.abs(r, src.page),
			Self: s.abs(r, src.prefix+"/"+format.file), Lang: l.Tag}
		cats := s.categoryByID(r.Context())
		for _, a := range list.Articles {
			it := feedItem{Title: a.Title, Description: a.Description, URL: s.abs(r, articleURL(a.Slug)),
				Author: a.Author.Username, AuthorURL: s.abs(r, profilePath(a.Author.Username)),
				Categories: a.TagList, Published: apiTime(a.CreatedAt), Updated: apiTime(a.UpdatedAt)}
			if it.Updated.Before(it.Published) {
				it.Updated = it.Published
			}
			if a.Category != nil {
				if c, ok := cats[*a.Category]; ok {
					it.Categories = append([]string{l.CategoryName(c)}, it.Categories...)
				}
			}
			if it.Updated.After(d.Updated) {
				d.Updated = it.Updated
			}
			d.Items = append(d.Items, it)
		}
		body, err := encodeXML(format.encode(d))
		if err != nil {
			return document{}, err
		}
		return document{body: body, mime: format.mime + "; charset=utf-8", modified: d.Updated, localized: true}, nil
	})
}

// feedSource is what a feed is about, from its route.
type feedSource struct {
	title, description string
	page, prefix       string // the HTML page it follows, its path before /rss.xml
	query              ListQuery
}

func (s *Service) feedSource(r *http.Request, l *locale, kind feedKind) (feedSource, error) {
	q := ListQuery{Limit: feedItems}
	switch kind {
	case feedAuthor:
		p, err := s.api.profile(r.Context(), "", r.PathValue(kind.param))
		if err != nil {
			return feedSource{}, err
		}
		q.Author = p.Username
		src := feedSource{title: authorFeedTitle(l, p.Username), page: profilePath(p.Username), prefix: profilePath(p.Username), query: q}
		src.description = src.title
		if p.Bio != nil && strings.TrimSpace(*p.Bio) != "" {
			src.description = *p.Bio
		}
		return src, nil
	case feedTag:
		tag := r.PathValue(kind.param)
		if strings.TrimSpace(tag) == "" {
			return feedSource{}, errNotFound
		}
		q.Tag = tag
		t := tagFeedTitle(l, tag)
		return feedSource{title: t, description: t, page: "/?tag=" + url.QueryEscape(tag), prefix: tagFeedPath(tag), query: q}, nil
	case feedCategory:
		slug := r.PathValue(kind.param)
		c, ok := s.categoryByID(r.Context())[slug]
		if !ok {
			return feedSource{}, errNotFound
		}
		q.Category = c.Slug
		t := categoryFeedTitle(l, l.CategoryName(c))
		return feedSource{title: t, description: t, page: "/?category=" + url.QueryEscape(c.Slug), prefix: categoryFeedPath(c.Slug), query: q}, nil
	default:
		return feedSource{title: siteFeedTitle(l), description: l.T("home.tagline"), page: "/", query: q}, nil
	}
}

// apiTime reads the API's RFC 3339 timestamps; the zero time when invalid.
func apiTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

// feedEpoch dates a feed without items, so that it stays the same bytes
// (and ETag) until an article arrives.
var feedEpoch = time.Unix(0, 0).UTC()

func orEpoch(t time.Time) time.Time {
	if t.IsZero() {
		return feedEpoch
	}
	return t
}

// --- RSS 2.0 (https://www.rssboard.org/rss-specification) --------------------------------

type rssDoc struct {
	XMLName xml.Name   `xml:"rss"`
	Version string     `xml:"version,attr"`
	Atom    string     `xml:"xmlns:atom,attr"`
	DC      string     `xml:"xmlns:dc,attr"`
	Channel rssChannel `xml:"channel"`
}

type rssChannel struct {
	Title         string    `xml:"title"`
	Link          string    `xml:"link"`
	Description   string    `xml:"description"`
	Language      string    `xml:"language"`
	LastBuildDate string    `xml:"lastBuildDate"`
	Generator     string    `xml:"generator"`
	Self          atomLink  `xml:"atom:link"` // the feed's own URL, as the RSS Advisory Board recommends
	Items         []rssItem `xml:"item"`
}

type rssItem struct {
	Title       string   `xml:"title"`
	Link        string   `xml:"link"`
	Description string   `xml:"description"`
	Creator     string   `xml:"dc:creator"` // <author> must be an e-mail address, which we do not publish
	Categories  []string `xml:"category"`
	GUID        rssGUID  `xml:"guid"`
	PubDate     string   `xml:"pubDate"`
}

type rssGUID struct {
	IsPermaLink bool   `xml:"isPermaLink,attr"`
	Value       string `xml:",chardata"`
}

func rssOf(f feedData) rssDoc {
	ch := rssChannel{Title: f.Title, Link: f.Page, Description: f.Description, Language: f.Lang,
		LastBuildDate: orEpoch(f.Updated).Format(time.RFC1123Z), Generator: "Tungsten",
		Self: atomLink{Href: f.Self, Rel: "self", Type: rssType}}
	for _, it := range f.Items {
		ch.Items = append(ch.Items, rssItem{Title: it.Title, Link: it.URL, Description: it.Description, Creator: it.Author,
			Categories: it.Categories, GUID: rssGUID{IsPermaLink: true, Value: it.URL}, PubDate: orEpoch(it.Published).Format(time.RFC1123Z)})
	}
	return rssDoc{Version: "2.0", Atom: atomNS, DC: "http://purl.org/dc/elements/1.1/", Channel: ch}
}

// --- Atom 1.0 (RFC 4287) -------------------------------------------------------------

const atomNS = "http://www.w3.org/2005/Atom"

type atomDoc struct {
	XMLName   xml.Name    `xml:"http://www.w3.org/2005/Atom feed"`
	Lang      string      `xml:"http://www.w3.org/XML/1998/namespace lang,attr"`
	Title     string      `xml:"title"`
	Subtitle  string      `xml:"subtitle"`
	ID        string      `xml:"id"`
	Updated   string      `xml:"updated"`
	Links     []atomLink  `xml:"link"`
	Generator string      `xml:"generator"`
	Entries   []atomEntry `xml:"entry"`
}

type atomLink struct {
	Href string `xml:"href,attr"`
	Rel  string `xml:"rel,attr"`
	Type string `xml:"type,attr,omitempty"`
}

type atomEntry struct {
	Title      string         `xml:"title"`
	ID         string         `xml:"id"`
	Link       atomLink       `xml:"link"`
	Published  string         `xml:"published"`
	Updated    string         `xml:"updated"`
	Author     atomPerson     `xml:"author"`
	Categories []atomCategory `xml:"category"`
	Summary    string         `xml:"summary"`
}

type atomPerson struct {
	Name string `xml:"name"`
	URI  string `xml:"uri"`
}

type atomCategory struct {
	Term string `xml:"term,attr"`
}

func atomOf(f feedData) atomDoc {
	d := atomDoc{Lang: f.Lang, Title: f.Title, Subtitle: f.Description, ID: f.Page, Updated: orEpoch(f.Updated).Format(time.RFC3339),
		Links:     []atomLink{{Href: f.Page, Rel: "alternate", Type: "text/html"}, {Href: f.Self, Rel: "self", Type: atomType}},
		Generator: "Tungsten"}
	for _, it := range f.Items {
		e := atomEntry{Title: it.Title, ID: it.URL, Link: atomLink{Href: it.URL, Rel: "alternate", Type: "text/html"},
			Published: orEpoch(it.Published).Format(time.RFC3339), Updated: orEpoch(it.Updated).Format(time.RFC3339),
			Author: atomPerson{Name: it.Author, URI: it.AuthorURL}, Summary: it.Description}
		for _, c := range it.Categories {
			e.Categories = append(e.Categories, atomCategory{Term: c})
		}
		d.Entries = append(d.Entries, e)
	}
	return d
}

// --- public documents ------------------------------------------------------------------

// document is an anonymous, cacheable answer: a feed, the sitemap, robots.txt.
type document struct {
	body      []byte
	mime      string
	modified  time.Time // Last-Modified; zero: none
	localized bool      // its text follows the reader's language
}

// public adapts a handler of documents: no session and no cookies (the
// same bytes for every reader of a language), an ETag and Last-Modified so
// readers poll with conditional requests (http.ServeContent answers 304),
// and the friendly error pages.
func (s *Service) public(h func(*http.Request, *locale) (document, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l := negotiate(r)
		d, err := h(r, l)
		if err != nil {
			setPageHeaders(w)
			s.fail(w, r, &session{w: w, loc: l}, err)
			return
		}
		hd := w.Header()
		hd.Set("Content-Type", d.mime)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		hd.Set("Cache-Control", s.cacheControl(r))
		if d.localized {
			hd.Set("Vary", "Accept-Language, Cookie")
		}
		sum := sha256.Sum256(d.body)
		hd.Set("ETag", `"`+hex.EncodeToString(sum[:12])+`"`)
		http.ServeContent(w, r, "", d.modified, bytes.NewReader(d.body))
	})
}

func encodeXML(v any) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	if err := xml.NewEncoder(&b).Encode(v); err != nil {
		return nil, fmt.Errorf("web: encoding XML: %w", err)
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}
