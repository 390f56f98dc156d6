package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/tungsten-blog/tungsten/internal/platform/errs"
)

// ListView is what every page with an article list shows.
type ListView struct {
	Articles []Article
	Count    int64
	Pager    pager
	Cats     map[string]Category
	Empty    string // what to say when the list is empty
	CSRF     string
	Next     string // where list actions (favorite) come back to
}

type homeData struct {
	ListView
	Feed       string // "your" or "" (global)
	Tag        string
	Category   string
	CatName    string
	Tags       []string
	Categories []Category
	Search     bool
	Query      string
}

// home is the front page: the global or personal feed, filtered by a tag or
// a category, twenty articles a page.
func (s *Service) home(r *http.Request, sess *session) (response, error) {
	q := r.URL.Query()
	page := pageNumber(q)
	d := homeData{Feed: q.Get("feed"), Tag: strings.TrimSpace(q.Get("tag")), Category: strings.TrimSpace(q.Get("category"))}
	if d.Feed != "your" {
		d.Feed = ""
	}
	if d.Feed == "your" && sess.user == nil {
		return nil, errs.Unauthenticated("sign in to see your feed")
	}

	var (
		wg      sync.WaitGroup
		list    ArticleList
		listErr error
	)
	wg.Go(func() {
		if d.Feed == "your" {
			list, listErr = s.api.feed(r.Context(), sess.token, perPage, (page-1)*perPage)
			return
		}
		list, listErr = s.api.articles(r.Context(), sess.token, ListQuery{Tag: d.Tag, Category: d.Category, Limit: perPage, Offset: (page - 1) * perPage})
	})
	wg.Go(func() {
		tags, err := s.api.tags(r.Context())
		if err == nil {
			d.Tags = tags
			if len(d.Tags) > 30 {
				d.Tags = d.Tags[:30]
			}
		}
	})
	wg.Go(func() { d.Categories, _ = s.categories(r.Context()) })
	wg.Wait()
	if listErr != nil {
		return nil, listErr
	}
	d.ListView = s.listView(r.Context(), sess, r, list, page)
	if c, ok := d.Cats[d.Category]; ok {
		d.CatName = sess.loc.CategoryName(c)
	}
	base := url.Values{}
	for k, v := range map[string]string{"feed": d.Feed, "tag": d.Tag, "category": d.Category} {
		if v != "" {
			base.Set(k, v)
		}
	}
	d.Pager = newPager(base, "/", page, list.ArticlesCount)
	title := sess.loc.T("nav.home")
	// Your feed is yours alone: its canonical page is the front page.
	h := pageHead{Canonical: listCanonical("/", url.Values{"tag": {d.Tag}, "category": {d.Category}}, page)}
	switch {
	case d.Feed == "your":
		d.Empty = sess.loc.T("home.your_feed_empty")
		title = sess.loc.T("home.your_feed")
		h.Canonical = "/"
	case d.Tag != "":
		title = "#" + d.Tag
		h.Feeds = feedLinks(tagFeedPath(d.Tag), tagFeedTitle(sess.loc, d.Tag))
	case d.CatName != "":
		title = d.CatName
		h.Feeds = feedLinks(categoryFeedPath(d.Category), categoryFeedTitle(sess.loc, d.CatName))
	default:
		h.Description = sess.loc.T("home.tagline")
	}
	return s.renderHead(sess, http.StatusOK, "home", title, d, h), nil
}

func (s *Service) listView(ctx context.Context, sess *session, r *http.Request, list ArticleList, page int) ListView {
	d := ListView{Articles: list.Articles, Count: list.ArticlesCount, Cats: s.categoryByID(ctx), CSRF: sess.csrf,
		Empty: sess.loc.T("list.empty"), Next: localPath(r.URL.RequestURI(), "/")}
	if len(list.Articles) == 0 && page > 1 {
		d.Empty = sess.loc.T("list.no_page", page)
	}
	return d
}

type searchData struct {
	ListView
	Query string
}

// search shows full-text search results.
func (s *Service) search(r *http.Request, sess *session) (response, error) {
	q := r.URL.Query()
	d := searchData{Query: strings.TrimSpace(q.Get("q"))}
	page := pageNumber(q)
	if d.Query == "" {
		d.Empty = sess.loc.T("search.prompt")
		return s.render(sess, http.StatusOK, "home", sess.loc.T("search.heading"), homeData{ListView: d.ListView, Search: true}), nil
	}
	list, err := s.api.articles(r.Context(), sess.token, ListQuery{Query: d.Query, Limit: perPage, Offset: (page - 1) * perPage})
	if err != nil && errs.Is(err, errs.KindInvalid) {
		list, err = ArticleList{}, nil // a query the search cannot parse finds nothing
	}
	if err != nil {
		return nil, err
	}
	d.ListView = s.listView(r.Context(), sess, r, list, page)
	d.Empty = sess.loc.T("search.nothing", d.Query)
	d.Pager = newPager(url.Values{"q": {d.Query}}, "/search", page, list.ArticlesCount)
	h := pageHead{Canonical: listCanonical("/search", url.Values{"q": {d.Query}}, page)}
	return s.renderHead(sess, http.StatusOK, "home", sess.loc.T("search.title", d.Query), homeData{ListView: d.ListView, Search: true, Query: d.Query}, h), nil
}

type profileData struct {
	ListView
	Profile   Profile
	Favorites bool
	Drafts    bool // the tab of the signed-in user's own drafts
	Own       bool
}

// profile shows a user's articles or favorites with a follow button.
func (s *Service) profile(r *http.Request, sess *session) (response, error) {
	name := r.PathValue("username")
	q := r.URL.Query()
	page := pageNumber(q)
	p, err := s.api.profile(r.Context(), sess.token, name)
	if err != nil {
		return nil, err
	}
	d := profileData{Profile: p, Favorites: q.Get("tab") == "favorites", Drafts: q.Get("tab") == "drafts",
		Own: sess.user != nil && sess.user.Username == p.Username}
	if d.Drafts && !d.Own {
		return nil, errNotFound // drafts are their author's alone
	}
	lq := ListQuery{Author: p.Username, Limit: perPage, Offset: (page - 1) * perPage}
	switch {
	case d.Favorites:
		lq = ListQuery{Favorited: p.Username, Limit: perPage, Offset: (page - 1) * perPage}
	case d.Drafts:
		lq = ListQuery{Drafts: true, Limit: perPage, Offset: (page - 1) * perPage}
	}
	list, err := s.api.articles(r.Context(), sess.token, lq)
	if err != nil {
		return nil, err
	}
	d.ListView = s.listView(r.Context(), sess, r, list, page)
	base := url.Values{}
	switch {
	case d.Favorites:
		base.Set("tab", "favorites")
		d.Empty = sess.loc.T("profile.no_favorites", p.Username)
	case d.Drafts:
		base.Set("tab", "drafts")
		d.Empty = sess.loc.T("profile.no_drafts")
	default:
		d.Empty = sess.loc.T("profile.no_articles", p.Username)
	}
	d.Pager = newPager(base, "/profile/"+url.PathEscape(p.Username), page, list.ArticlesCount)
	h := pageHead{Canonical: listCanonical(profilePath(p.Username), base, page), Feeds: feedLinks(profilePath(p.Username), authorFeedTitle(sess.loc, p.Username)),
		Description: deref(p.Bio), OGType: "profile", NoIndex: d.Drafts}
	return s.renderHead(sess, http.StatusOK, "profile", p.Username, d, h), nil
}

// follow follows or unfollows a profile and goes back where the form was.
func (s *Service) follow(r *http.Request, sess *session) (response, error) {
	if sess.user == nil {
		return nil, errs.Unauthenticated("sign in to follow")
	}
	name := r.PathValue("username")
	if err := s.api.follow(r.Context(), sess.token, name, r.PostFormValue("action") != "unfollow"); err != nil {
		return nil, err
	}
	return redirect(localPath(r.PostFormValue("next"), "/profile/"+url.PathEscape(name))), nil
}
