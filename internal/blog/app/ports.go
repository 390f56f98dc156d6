// Package app holds the blog's use cases. It depends on its ports (the
// repository, the users service's profiles, the cache) only through the
// interfaces declared here; the composition root names the adapters.
package app

import (
	"context"

	"github.com/tungsten-blog/tungsten/internal/blog/domain"
)

// Repository stores articles, comments, favorites and categories, and the
// read model of authors and follows. Not-found conditions are reported as
// errs.NotFound; writes enqueue their events in the same transaction.
type Repository interface {
	Article(ctx context.Context, slug string) (domain.Article, error)
	ListArticles(ctx context.Context, q domain.ListQuery) (domain.Page, error)
	CreateArticle(ctx context.Context, in domain.ArticleInput, authorID int64, authorUsername string) (domain.Article, error)
	UpdateArticle(ctx context.Context, slug string, update func(cur domain.Article) (domain.ArticleInput, error)) (domain.Article, error)
	DeleteArticle(ctx context.Context, slug string, check func(domain.Article) error) error
	// ArticleByPreviewToken finds a draft by its preview link; NewPreviewToken
	// replaces that link (ADR 0020).
	ArticleByPreviewToken(ctx context.Context, token string) (domain.Article, error)
	NewPreviewToken(ctx context.Context, slug string, check func(domain.Article) error) (domain.Article, error)

	Favorite(ctx context.Context, slug string, userID int64) (domain.Article, error)
	Unfavorite(ctx context.Context, slug string, userID int64) (domain.Article, error)
	FavoritedBy(ctx context.Context, userID int64, articleIDs []int64) (map[int64]bool, error)

	AddComment(ctx context.Context, slug string, authorID int64, authorUsername, body string) (domain.Comment, error)
	Comments(ctx context.Context, slug string, viewerID int64) ([]domain.Comment, error)
	DeleteComment(ctx context.Context, slug string, id, viewerID int64, check func(domain.Comment) error) error

	// CreateArticleOnce and AddCommentOnce also keep the write's
	// Idempotency-Key and response in its transaction
	// (domain.ErrIdempotencyKeyUsed when the key is taken).
	CreateArticleOnce(ctx context.Context, in domain.ArticleInput, authorID int64, authorUsername string,
		once domain.Once[domain.Article]) (domain.Article, error)
	AddCommentOnce(ctx context.Context, slug string, authorID int64, authorUsername, body string,
		once domain.Once[domain.Comment]) (domain.Comment, error)
	StoredResponse(ctx context.Context, userID int64, key string) (domain.StoredResponse, bool, error)

	Tags(ctx context.Context, limit int) ([]string, error)
	Categories(ctx context.Context) ([]domain.Category, error)
	CategoryExists(ctx context.Context, slug string) (bool, error)

	Authors(ctx context.Context, ids []int64) (map[int64]domain.Profile, error)
	AuthorByUsername(ctx context.Context, username string) (domain.Profile, bool, error)
	UpsertAuthor(ctx context.Context, p domain.Profile) (bool, error)
	Following(ctx context.Context, followerID int64, ids []int64) (map[int64]bool, error)
}

// Encoder renders views as the public API's JSON bodies, leaving the
// viewer's flags (favorited, following) as slots; the HTTP port provides it.
// Views passed to it carry an anonymous viewer's flags.
type Encoder interface {
	List(ArticleList) Rendered
	Article(ArticleView) Rendered
	Tags([]string) Rendered
}

// Profiles looks profiles up in the users service: the synchronous fallback
// when the read model misses. Unknown IDs and usernames are simply absent.
type Profiles interface {
	Lookup(ctx context.Context, ids []int64, usernames []string) ([]domain.Profile, error)
}

// Viewer is the caller: ID 0 for anonymous requests. Username is the one in
// the caller's token.
type Viewer struct {
	ID       int64
	Username string
}

// AuthorView is an author as a viewer sees them.
type AuthorView struct {
	Username  string
	Bio       *string
	Image     *string
	Following bool
}

// ArticleView is an article as a viewer sees it.
type ArticleView struct {
	domain.Article
	Author    AuthorView
	Favorited bool
}

// ArticleList is one page of articles and the total number of matches.
type ArticleList struct {
	Articles []ArticleView
	Total    int64
}

// CommentView is a comment as a viewer sees it.
type CommentView struct {
	domain.Comment
	Author AuthorView
}

// ListParams are the filters of GET /api/articles, as the client sent them.
type ListParams struct {
	Tag       string
	Author    string // username
	Favorited string // username
	Category  string // category slug
	Query     string // free text
	Drafts    bool   // the viewer's drafts instead of published articles
	Limit     int
	Offset    int
}
