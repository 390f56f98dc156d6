package web

import (
	"fmt"
	"html/template"
	"net/url"
	"strconv"
	"strings"
)

// pageNames are the templates under templates/, each rendered inside layout.html.
var pageNames = []string{"home", "article", "editor", "auth", "settings", "profile", "error"}

// funcs are the template functions; t, tn, date, count and readtime speak
// the page's language, so each locale gets its own parsed set of pages.
func funcs(l *locale) template.FuncMap {
	return template.FuncMap{
		"t": l.T,
		"tn": func(key string, n any, args ...any) (string, error) {
			v, err := toInt64(n)
			return l.N(key, v, args...), err
		},
		"date": l.Date,
		"count": func(n any) (string, error) {
			v, err := toInt64(n)
			return l.Count(v), err
		},
		"readtime": l.ReadingTime,
		"catname":  l.CategoryName,
		"deref": func(s *string) string {
			if s == nil {
				return ""
			}
			return *s
		},
		"path":  url.PathEscape,
		"query": url.QueryEscape,
		"initial": func(s string) string {
			for _, r := range s {
				return strings.ToUpper(string(r))
			}
			return "?"
		},
	}
}

// toInt64 lets templates count ints (len) and int64s (API counts) alike;
// anything else is a template bug, and fails the page rather than show 0.
func toInt64(n any) (int64, error) {
	switch v := n.(type) {
	case int:
		return int64(v), nil
	case int64:
		return v, nil
	default:
		return 0, fmt.Errorf("web: counting a %T", n)
	}
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

// parsePages parses every page once per locale.
func parsePages() (map[*locale]map[string]*template.Template, error) {
	all := map[*locale]map[string]*template.Template{}
	for _, l := range locales {
		pages := map[string]*template.Template{}
		for _, name := range pageNames {
			t, err := template.New(name).Funcs(funcs(l)).ParseFS(templateFS,
				"templates/layout.html", "templates/partials.html", "templates/"+name+".html")
			if err != nil {
				return nil, fmt.Errorf("web: parsing template %s: %w", name, err)
			}
			pages[name] = t
		}
		all[l] = pages
	}
	return all, nil
}

// pager is the numbered pagination under a list.
type pager struct {
	Page, Pages int
	Prev, Next  string
	Links       []pageLink
}

type pageLink struct {
	N       int
	URL     string
	Current bool
	Gap     bool // an ellipsis
}

// newPager builds links for page (1-based) of total items; base holds the
// other query parameters.
func newPager(base url.Values, path string, page int, total int64) pager {
	pages := int((total + perPage - 1) / perPage)
	p := pager{Page: page, Pages: pages}
	if pages <= 1 {
		return p
	}
	link := func(n int) string {
		v := url.Values{}
		for k, vs := range base {
			v[k] = vs
		}
		if n > 1 {
			v.Set("page", strconv.Itoa(n))
		} else {
			v.Del("page")
		}
		if len(v) == 0 {
			return path
		}
		return path + "?" + v.Encode()
	}
	if page > 1 {
		p.Prev = link(page - 1)
	}
	if page < pages {
		p.Next = link(page + 1)
	}
	last := 0
	for n := 1; n <= pages; n++ {
		if n == 1 || n == pages || (n >= page-2 && n <= page+2) {
			if last != 0 && n-last > 1 {
				p.Links = append(p.Links, pageLink{Gap: true})
			}
			p.Links = append(p.Links, pageLink{N: n, URL: link(n), Current: n == page})
			last = n
		}
	}
	return p
}

// pageNumber reads ?page=, 1 when absent or invalid.
func pageNumber(v url.Values) int {
	n, err := strconv.Atoi(v.Get("page"))
	if err != nil || n < 1 || n > 100000 {
		return 1
	}
	return n
}
