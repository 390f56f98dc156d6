package web

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/language"

	"github.com/tungsten-blog/tungsten/internal/platform/readingtime"
)

// The UI speaks English and Korean (ADR 0014). Every string a user sees
// comes from the catalogs in catalog_en.go and catalog_ko.go, looked up by
// key; i18n_test.go fails on a template string that bypasses them and on a
// key missing from either catalog or used nowhere.

// langCookie remembers the language picked with the switcher.
const langCookie = "tungsten_lang"

// langCookieMaxAge keeps the choice for a year.
const langCookieMaxAge = 365 * 24 * time.Hour

// maxAcceptLanguage bounds the header we parse: longer ones are ignored
// (English), so an anonymous client cannot make negotiation expensive.
const maxAcceptLanguage = 512

// locale is one language of the UI.
type locale struct {
	Tag  string // the BCP 47 tag, for <html lang>
	msgs map[string]string
	date func(time.Time) string
}

var (
	localeEN = &locale{Tag: "en", msgs: catalogEN, date: func(t time.Time) string { return t.Format("January 2, 2006") }}
	localeKO = &locale{Tag: "ko", msgs: catalogKO, date: func(t time.Time) string {
		return fmt.Sprintf("%d년 %d월 %d일", t.Year(), int(t.Month()), t.Day())
	}}
	// locales is every supported language; the first is the default.
	locales = []*locale{localeEN, localeKO}
	// matcher picks among them; its first tag (English) is the fallback.
	matcher = language.NewMatcher([]language.Tag{language.English, language.Korean})
)

// localeByTag returns the locale named exactly tag ("en", "ko"), or nil.
func localeByTag(tag string) *locale {
	for _, l := range locales {
		if l.Tag == tag {
			return l
		}
	}
	return nil
}

// negotiate picks the UI language: a valid choice remembered in the cookie
// wins; otherwise the browser's Accept-Language (q-values honoured) decides
// between Korean and English, English when neither is wanted or the header
// is missing, malformed or too long.
func negotiate(r *http.Request) *locale {
	if c, err := r.Cookie(langCookie); err == nil {
		if l := localeByTag(c.Value); l != nil {
			return l
		}
	}
	return fromAcceptLanguage(r.Header.Get("Accept-Language"))
}

func fromAcceptLanguage(h string) *locale {
	if h == "" || len(h) > maxAcceptLanguage {
		return localeEN
	}
	tags, _, err := language.ParseAcceptLanguage(h)
	if err != nil || len(tags) == 0 {
		return localeEN
	}
	_, i, conf := matcher.Match(tags...)
	if conf == language.No {
		return localeEN
	}
	return locales[i]
}

// T returns the message for key with args put in (fmt verbs, indexed so a
// translation may reorder them). A key missing from the catalog shows as
// itself, which the catalog tests make impossible in practice.
func (l *locale) T(key string, args ...any) string {
	m, ok := l.msgs[key]
	if !ok {
		return key
	}
	if len(args) == 0 {
		return m
	}
	return fmt.Sprintf(m, args...)
}

// N is T for a message about a count: key+".one" when n is 1, key+".other"
// otherwise (Korean has no plural, so its two forms are the same). n is the
// first argument, formatted with Count.
func (l *locale) N(key string, n int64, args ...any) string {
	form := ".other"
	if n == 1 {
		form = ".one"
	}
	return l.T(key+form, append([]any{l.Count(n)}, args...)...)
}

// Count formats a number with thousands separators (both languages use commas).
func (l *locale) Count(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// Date formats an RFC 3339 timestamp as a calendar date in UTC
// ("December 2, 2026" / "2026년 12월 2일"); anything else is shown as is.
func (l *locale) Date(s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return s
	}
	return l.date(t.UTC())
}

// ReadingTime says how long a text takes to read ("3 min read" / "3분 읽기").
func (l *locale) ReadingTime(text string) string {
	return l.T("article.reading_time", readingtime.Minutes(text))
}

// categoryKeys name the blog's fixed categories (its first migration) in
// the catalogs; a category added later shows the name the blog gives it.
var categoryKeys = map[string]string{
	"technology": "category.technology", "science": "category.science", "culture": "category.culture",
	"travel": "category.travel", "food": "category.food", "lifestyle": "category.lifestyle",
	"business": "category.business", "health": "category.health",
}

// CategoryName is a category's name in the page's language.
func (l *locale) CategoryName(c Category) string {
	if catKey, ok := categoryKeys[c.Slug]; ok {
		return l.T(catKey)
	}
	return c.Name
}

// setLang answers the language switcher (POST /lang, CSRF-checked like
// every form): it remembers a valid choice and goes back where it was.
func (s *Service) setLang(r *http.Request, _ *session) (response, error) {
	l := localeByTag(r.PostFormValue("lang"))
	next := localPath(r.PostFormValue("next"), "/")
	if p, _, _ := strings.Cut(next, "?"); p == "/lang" {
		next = "/" // the switcher on a page that answered a switch
	}
	return func(w http.ResponseWriter, r *http.Request) {
		if l != nil {
			setCookie(w, r, langCookie, l.Tag, langCookieMaxAge)
		}
		redirect(next)(w, r)
	}, nil
}
