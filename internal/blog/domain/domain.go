// Package domain holds the blog's types and rules: articles, comments,
// categories, author profiles, slugs, validation and the events the blog
// publishes. It does no I/O.
package domain

import (
	"strings"
	"time"

	"github.com/tungsten-blog/tungsten/internal/blog/search"
)

// Article is an article: published, or a draft only its author sees (and
// whoever holds its preview link; ADR 0020).
type Article struct {
	ID             int64
	Slug           string
	Title          string
	Description    string
	Body           string // empty in list rows, which never load it
	Tags           []string
	AuthorID       int64
	AuthorUsername string // the author's username when the article was written; a fallback only
	Category       string // category slug, "" for none
	FavoritesCount int64
	CreatedAt      time.Time
	UpdatedAt      time.Time
	Snippet        []search.Part // search results only: where the query matched
	ReadingMinutes int           // stored with the body (readingtime.Minutes); 0 until measured
	Draft          bool          // not published: in no list, feed, search or count, and 404 for everyone but its author
	PreviewToken   string        // a draft's preview link (NewPreviewToken); "" for published articles
}

// VisibleTo reports whether the user (0: anonymous) may read the article:
// everyone a published one, only its author a draft. The preview link is
// the one other way to a draft.
func (a Article) VisibleTo(userID int64) bool {
	return !a.Draft || (userID != 0 && a.AuthorID == userID)
}

// Comment is a comment on an article.
type Comment struct {
	ID             int64
	ArticleID      int64
	AuthorID       int64
	AuthorUsername string // at the time of writing; a fallback only
	Body           string
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Category groups articles; categories are fixed by migration.
type Category struct {
	Slug          string
	Name          string
	Color         string // "#rrggbb"
	ArticlesCount int64
}

// Profile is an author as the blog's read model knows them. Version is the
// users service's updatedAt in unix milliseconds: only newer versions replace
// older ones.
type Profile struct {
	ID       int64
	Username string
	Bio      *string
	Image    *string
	Version  int64
}

// Follow is the latest known state of one follow relation; At (unix ms)
// orders updates, the last write wins.
type Follow struct {
	FollowerID int64
	FolloweeID int64
	Following  bool
	At         int64
}

// Page is one page of a list and the total number of matches.
type Page struct {
	Articles []Article
	Total    int64
}

// TimeFormat is the API's timestamp format: UTC with exactly three fraction
// digits ("2016-02-18T03:22:56.000Z"); Go's RFC 3339 drops a zero fraction.
const TimeFormat = "2006-01-02T15:04:05.000Z"

// FormatTime formats t for the API.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }

// FromMillis converts a stored unix-ms timestamp.
func FromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// ListQuery selects a page of articles. Zero fields do not filter.
type ListQuery struct {
	Tag         string
	AuthorID    int64
	FavoritedBy int64    // user ID
	Category    string   // category slug
	Terms       []string // full-text terms (see SearchTerms); every one must match; ranked
	FollowedBy  int64    // feed: articles by authors this user follows
	DraftsOf    int64    // this author's drafts instead of published articles (0: published only)
	Limit       int
	Offset      int
}

// UsernameKey is the case-insensitive lookup key of a username.
func UsernameKey(username string) string { return strings.ToLower(username) }
