package web

import (
	"fmt"
	"html/template"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// pageNames are the templates under templates/, each rendered inside layout.html.
var pageNames = []string{"home", "article", "editor", "auth", "settings", "profile", "error"}

var funcs = template.FuncMap{
	"date": func(s string) string {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return s
		}
		return t.UTC().Format("January 2, 2006")
	},
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
	"has": func(list []string, s string) bool {
		for _, x := range list {
			if x == s {
				return true
			}
		}
		return false
	},
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

func parsePages() (map[string]*template.Template, error) {
	pages := map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS,
			"templates/layout.html", "templates/partials.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("web: parsing template %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
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
