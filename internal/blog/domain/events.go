package domain

import "github.com/tungsten-blog/tungsten/internal/users/userevents"

// Event types the blog publishes (subjects "<namespace>.<type>").
const (
	EventArticlePublished = "blog.article.published"
	EventArticleUpdated   = "blog.article.updated"
	EventArticleDeleted   = "blog.article.deleted"
	// EventArticleUnpublished: a published article went back to draft; to
	// everyone but its author it is gone, as if deleted (ADR 0020). Drafts
	// themselves publish no events.
	EventArticleUnpublished = "blog.article.unpublished"
	EventCommentAdded       = "blog.comment.added"
	EventCommentDeleted     = "blog.comment.deleted"
	EventArticleFavorited   = "blog.article.favorited"
	EventArticleUnfavorited = "blog.article.unfavorited"
)

// EventTypes lists every event the blog publishes.
var EventTypes = []string{
	EventArticlePublished, EventArticleUpdated, EventArticleDeleted, EventArticleUnpublished,
	EventCommentAdded, EventCommentDeleted,
	EventArticleFavorited, EventArticleUnfavorited,
}

// ArticleEvent is the payload of blog.article.*: published (when created,
// or when a draft is published), updated (with the previous slug when the
// title change moved it), unpublished and deleted.
type ArticleEvent struct {
	ArticleID    int64  `json:"articleId"`
	Slug         string `json:"slug"`
	PreviousSlug string `json:"previousSlug,omitempty"`
	AuthorID     int64  `json:"authorId"`
	Category     string `json:"category,omitempty"`
	At           int64  `json:"at"` // unix ms
}

// CommentEvent is the payload of blog.comment.added and .deleted.
type CommentEvent struct {
	CommentID int64  `json:"commentId"`
	ArticleID int64  `json:"articleId"`
	Slug      string `json:"slug"`
	AuthorID  int64  `json:"authorId"` // of the comment
	At        int64  `json:"at"`
}

// FavoriteEvent is the payload of blog.article.favorited and .unfavorited.
type FavoriteEvent struct {
	ArticleID      int64  `json:"articleId"`
	Slug           string `json:"slug"`
	AuthorID       int64  `json:"authorId"` // of the article
	UserID         int64  `json:"userId"`   // who (un)favorited it
	FavoritesCount int64  `json:"favoritesCount"`
	At             int64  `json:"at"`
}

// ProfileOf converts a users profile (an event's or a lookup's) for the read
// model; its version is updatedAt.
func ProfileOf(p userevents.User) Profile {
	return Profile{ID: p.ID, Username: p.Username, Bio: p.Bio, Image: p.Image, Version: int64(p.UpdatedAt)}
}
