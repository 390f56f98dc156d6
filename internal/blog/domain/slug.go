package domain

import (
	"crypto/rand"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxSlugRunes bounds a slug's length, suffix included.
const MaxSlugRunes = 100

// slugSuffixLen is the number of random base36 characters appended to a slug
// whose base is taken.
const slugSuffixLen = 6

// DefaultSlug is the slug of a title that holds no letter or digit.
const DefaultSlug = "article"

// reservedSlugs would collide with fixed routes: GET /api/articles/feed is the
// feed, so an article slugged "feed" could never be read.
var reservedSlugs = map[string]bool{"feed": true}

// Slugify turns a title into a URL-safe, unicode-aware slug: letters and
// digits of any script are kept (lower-cased), combining marks are kept after
// them (Devanagari and Thai need them), and every other run becomes one "-".
// The result is never empty, has no leading or trailing "-", holds at most
// MaxSlugRunes runes, and Slugify(Slugify(s)) == Slugify(s).
func Slugify(title string) string {
	return slugify(title, MaxSlugRunes)
}

func slugify(title string, maxRunes int) string {
	var b strings.Builder
	b.Grow(min(len(title), maxRunes*4))
	n := 0        // runes written
	dash := false // a separator is pending
runes:
	for _, r := range title {
		if n >= maxRunes {
			break
		}
		l := unicode.ToLower(r)
		switch {
		case isSlugBase(l):
			if dash && n > 0 {
				if n+2 > maxRunes {
					break runes // no room for the separator and a rune after it
				}
				b.WriteByte('-')
				n++
			}
			dash = false
			b.WriteRune(l)
			n++
		case isMark(r) && n > 0 && !dash:
			// A mark belongs to the letter before it.
			b.WriteRune(r)
			n++
		default:
			dash = true
		}
	}
	if b.Len() == 0 {
		return DefaultSlug
	}
	return b.String()
}

func isSlugBase(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

func isMark(r rune) bool { return unicode.In(r, unicode.Mn, unicode.Mc) }

// IsValidSlug reports whether s could have been produced by Slugify (with or
// without a suffix): non-empty, valid UTF-8, bounded, lower-case letters,
// digits, marks after them, and single inner dashes.
func IsValidSlug(s string) bool {
	if s == "" || !utf8.ValidString(s) || utf8.RuneCountInString(s) > MaxSlugRunes {
		return false
	}
	prev := '-'
	for _, r := range s {
		switch {
		case r == '-':
			if prev == '-' {
				return false
			}
		case isSlugBase(r):
			if unicode.ToLower(r) != r {
				return false
			}
		case isMark(r):
			if prev == '-' {
				return false
			}
		default:
			return false
		}
		prev = r
	}
	return prev != '-'
}

// IsReservedSlug reports whether slug may not be used as is.
func IsReservedSlug(slug string) bool { return reservedSlugs[slug] }

// SuffixedSlug returns base with "-" and six random base36 characters
// appended, shortening base so the result stays within MaxSlugRunes.
func SuffixedSlug(base string) string {
	const alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
	var raw [slugSuffixLen]byte
	_, _ = rand.Read(raw[:]) // crypto/rand.Read never fails
	suffix := make([]byte, slugSuffixLen)
	for i, c := range raw {
		suffix[i] = alphabet[int(c)%len(alphabet)]
	}
	base = slugify(base, MaxSlugRunes-slugSuffixLen-1)
	return base + "-" + string(suffix)
}

// SlugFitsTitle reports whether slug was derived from title: it is the
// title's slug, or that slug with a random suffix. An update that keeps the
// slug's words keeps the slug.
func SlugFitsTitle(slug, title string) bool {
	base := Slugify(title)
	if slug == base {
		return true
	}
	short := slugify(title, MaxSlugRunes-slugSuffixLen-1)
	rest, ok := strings.CutPrefix(slug, short+"-")
	if !ok || len(rest) != slugSuffixLen {
		return false
	}
	for _, c := range rest {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}
