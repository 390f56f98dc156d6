// Package blogevents is the blog service's event contract: the event types
// it publishes, their payloads and the payloads' version. The blog encodes
// these types into its outbox and every consumer decodes them with Decode,
// so the wire form is written once; the compatibility test pins it with
// golden payloads (testdata).
//
// Version is the payloads' major version. Adding a field keeps it (older
// consumers ignore the field, newer ones read its zero value from older
// payloads); a change an older consumer would misread (a field renamed,
// retyped or given a new meaning) raises it, and the blog may publish it
// only once every consumer reads it: consumers deploy first. A payload of a
// newer major version than a consumer knows is refused by Decode
// (ErrUnsupportedVersion), not guessed at.
package blogevents

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Event types the blog publishes (subjects "<namespace>.<type>").
const (
	// ArticlePublished: an article became visible to everyone, created
	// published or a draft published (payload Article). Drafts themselves
	// publish no events (ADR 0020).
	ArticlePublished = "blog.article.published"
	// ArticleUpdated: a published article changed (payload Article, with
	// PreviousSlug when the title change moved its slug).
	ArticleUpdated = "blog.article.updated"
	// ArticleDeleted: a published article was deleted (payload Article).
	ArticleDeleted = "blog.article.deleted"
	// ArticleUnpublished: a published article went back to draft; to
	// everyone but its author it is gone, as if deleted (payload Article,
	// with the slug others knew it by).
	ArticleUnpublished = "blog.article.unpublished"
	// CommentAdded and CommentDeleted: payload Comment.
	CommentAdded   = "blog.comment.added"
	CommentDeleted = "blog.comment.deleted"
	// ArticleFavorited and ArticleUnfavorited: a user's favorite changed
	// the article's count (payload Favorite); repeating one changes nothing
	// and publishes nothing.
	ArticleFavorited   = "blog.article.favorited"
	ArticleUnfavorited = "blog.article.unfavorited"
)

// Types lists every event type the blog publishes.
func Types() []string {
	return []string{
		ArticlePublished, ArticleUpdated, ArticleDeleted, ArticleUnpublished,
		CommentAdded, CommentDeleted,
		ArticleFavorited, ArticleUnfavorited,
	}
}

// Version is the payloads' current major version, the one the blog writes
// and the newest this build decodes.
const Version = 1

// ErrUnsupportedVersion is Decode's error for a payload of a newer major
// version than Version.
var ErrUnsupportedVersion = errors.New("unsupported blog event version")

// Article is the payload of blog.article.published, .updated, .deleted and
// .unpublished.
type Article struct {
	Version      int    `json:"version"`
	ArticleID    int64  `json:"articleId"`
	Slug         string `json:"slug"`
	PreviousSlug string `json:"previousSlug,omitempty"` // updated: the slug before a title change moved it
	AuthorID     int64  `json:"authorId"`
	Category     string `json:"category,omitempty"`
	At           int64  `json:"at"` // unix ms
}

// Comment is the payload of blog.comment.added and .deleted.
type Comment struct {
	Version   int    `json:"version"`
	CommentID int64  `json:"commentId"`
	ArticleID int64  `json:"articleId"`
	Slug      string `json:"slug"`
	AuthorID  int64  `json:"authorId"` // of the comment
	At        int64  `json:"at"`       // unix ms
}

// Favorite is the payload of blog.article.favorited and .unfavorited.
type Favorite struct {
	Version        int    `json:"version"`
	ArticleID      int64  `json:"articleId"`
	Slug           string `json:"slug"`
	AuthorID       int64  `json:"authorId"`       // of the article
	UserID         int64  `json:"userId"`         // who (un)favorited it
	FavoritesCount int64  `json:"favoritesCount"` // the article's count after the change
	At             int64  `json:"at"`             // unix ms
}

// Payload is one of *Article, *Comment and *Favorite.
type Payload interface{ version() *int }

func (p *Article) version() *int  { return &p.Version }
func (p *Comment) version() *int  { return &p.Version }
func (p *Favorite) version() *int { return &p.Version }

// Decode decodes a blog event's payload into p. Unknown fields are ignored.
// A payload without a version was written before the field existed and is
// version 1. A newer major version than Version is refused with
// ErrUnsupportedVersion: a consumer should not apply it, and not drop it
// either (returning the error from a handler has the event redelivered
// until a consumer that reads it is deployed).
func Decode(data []byte, p Payload) error {
	err := json.Unmarshal(data, p)
	v := p.version()
	if err != nil {
		// A newer version may have retyped a field: say that, not which field.
		var head struct {
			Version int `json:"version"`
		}
		if json.Unmarshal(data, &head) == nil && head.Version > Version {
			return unsupported(head.Version)
		}
		return fmt.Errorf("decoding blog event payload: %w", err)
	}
	switch {
	case *v > Version:
		return unsupported(*v)
	case *v < 0:
		return fmt.Errorf("decoding blog event payload: version %d", *v)
	case *v == 0:
		*v = 1
	}
	return nil
}

func unsupported(v int) error {
	return fmt.Errorf("%w: payload version %d, this build reads up to %d", ErrUnsupportedVersion, v, Version)
}
