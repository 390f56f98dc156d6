package domain

import (
	"strings"
	"unicode/utf8"
)

// Search limits: a query longer than MaxQueryRunes is refused; only the first
// MaxSearchTerms terms count, each cut to MaxTermRunes.
const (
	MaxQueryRunes  = 200
	MaxSearchTerms = 16
	MaxTermRunes   = 64
)

// SearchTerms splits a free-text query into lower-cased terms: runs of
// letters, digits and combining marks. Everything else separates terms, so
// no character of the query has a meaning of its own: quotes, stars, OR,
// NOT, parentheses and minus signs are text to ignore, not syntax. An article
// matches when it contains every term (in its title, description or body).
func SearchTerms(q string) []string {
	if !utf8.ValidString(q) {
		q = strings.ToValidUTF8(q, " ")
	}
	var terms []string
	seen := map[string]bool{}
	f := strings.FieldsFunc(q, func(r rune) bool { return !isSlugBase(r) && !isMark(r) })
	for _, t := range f {
		t = strings.ToLower(t)
		if utf8.RuneCountInString(t) > MaxTermRunes {
			t = string([]rune(t)[:MaxTermRunes])
		}
		if seen[t] {
			continue
		}
		seen[t] = true
		terms = append(terms, t)
		if len(terms) == MaxSearchTerms {
			break
		}
	}
	return terms
}
