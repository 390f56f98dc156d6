package domain

// Event types the blog publishes (subjects "<namespace>.<type>").
const (
	EventArticlePublished   = "blog.article.published"
	EventArticleUpdated     = "blog.article.updated"
	EventArticleDeleted     = "blog.article.deleted"
	EventCommentAdded       = "blog.comment.added"
	EventCommentDeleted     = "blog.comment.deleted"
	EventArticleFavorited   = "blog.article.favorited"
	EventArticleUnfavorited = "blog.article.unfavorited"
)

// EventTypes lists every event the blog publishes.
var EventTypes = []string{
	EventArticlePublished, EventArticleUpdated, EventArticleDeleted,
	EventCommentAdded, EventCommentDeleted,
	EventArticleFavorited, EventArticleUnfavorited,
}

// ArticleEvent is the payload of blog.article.*: published, updated (with
// the previous slug when the title change moved it) and deleted.
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

// Users events the blog consumes.
const (
	EventUserRegistered = "users.user.registered"
	EventUserUpdated    = "users.user.updated"
	EventFollowCreated  = "users.follow.created"
	EventFollowDeleted  = "users.follow.deleted"
)
