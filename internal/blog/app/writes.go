package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/tungsten-blog/tungsten/internal/blog/domain"
	"github.com/tungsten-blog/tungsten/internal/platform/errs"
)

// CreateArticle publishes a new article by the viewer, or saves it as a
// draft (in.Draft).
func (s *Service) CreateArticle(ctx context.Context, v Viewer, in domain.ArticleInput) (ArticleView, error) {
	in = in.Normalize()
	if err := in.Validate(); err != nil {
		return ArticleView{}, err
	}
	author, err := s.newWriting(ctx, v)
	if err != nil {
		return ArticleView{}, err
	}
	if err := s.checkCategory(ctx, in.Category); err != nil {
		return ArticleView{}, err
	}
	a, err := s.repo.CreateArticle(ctx, in, v.ID, author.Username)
	if err != nil {
		return ArticleView{}, err
	}
	s.changed(ctx, v)
	return ArticleView{Article: a, Author: author}, nil // nobody can have favorited it yet
}

// Response is the answer to a write sent with an Idempotency-Key: the one
// first sent for that key, Replayed when this request did not write.
type Response struct {
	Status   int
	Body     []byte
	Replayed bool
}

// CreateArticleOnce is CreateArticle under the viewer's Idempotency-Key
// (ADR 0013): the first request with the key writes and keeps its response
// (status, and the body render makes of the view) in the same transaction;
// a retry with the same key and input gets that response back and writes
// nothing, one with other input is refused. A retry is not charged to the
// write limit.
func (s *Service) CreateArticleOnce(ctx context.Context, v Viewer, in domain.ArticleInput, key string, status int,
	render func(ArticleView) ([]byte, error)) (Response, error) {
	in = in.Normalize()
	if err := in.Validate(); err != nil {
		return Response{}, err
	}
	k, err := idempotencyKey(v, key, "POST /api/articles", in)
	if err != nil {
		return Response{}, err
	}
	if r, ok, err := s.replay(ctx, k); ok || err != nil {
		return r, err
	}
	author, err := s.newWriting(ctx, v)
	if err != nil {
		return Response{}, err
	}
	if err := s.checkCategory(ctx, in.Category); err != nil {
		return Response{}, err
	}
	var body []byte
	_, err = s.repo.CreateArticleOnce(ctx, in, v.ID, author.Username, domain.Once[domain.Article]{
		IdempotencyKey: k, Status: status,
		Render: func(a domain.Article) ([]byte, error) {
			var err error
			body, err = render(ArticleView{Article: a, Author: author})
			return body, err
		},
	})
	if errors.Is(err, domain.ErrIdempotencyKeyUsed) {
		return s.replayRaced(ctx, k)
	}
	if err != nil {
		return Response{}, err
	}
	s.changed(ctx, v)
	return Response{Status: status, Body: body}, nil
}

// AddCommentOnce is AddComment under the viewer's Idempotency-Key, as
// CreateArticleOnce.
func (s *Service) AddCommentOnce(ctx context.Context, v Viewer, slug, body, key string, status int,
	render func(CommentView) ([]byte, error)) (Response, error) {
	if !matchable(slug) {
		return Response{}, errs.NotFound("article")
	}
	body = strings.TrimSpace(body)
	if err := domain.ValidateComment(body); err != nil {
		return Response{}, err
	}
	k, err := idempotencyKey(v, key, "POST /api/articles/{slug}/comments", []string{slug, body})
	if err != nil {
		return Response{}, err
	}
	if r, ok, err := s.replay(ctx, k); ok || err != nil {
		return r, err
	}
	author, err := s.newWriting(ctx, v)
	if err != nil {
		return Response{}, err
	}
	var out []byte
	_, err = s.repo.AddCommentOnce(ctx, slug, v.ID, author.Username, body, domain.Once[domain.Comment]{
		IdempotencyKey: k, Status: status,
		Render: func(c domain.Comment) ([]byte, error) {
			var err error
			out, err = render(CommentView{Comment: c, Author: author})
			return out, err
		},
	})
	if errors.Is(err, domain.ErrIdempotencyKeyUsed) {
		return s.replayRaced(ctx, k)
	}
	if err != nil {
		return Response{}, err
	}
	s.kick()
	return Response{Status: status, Body: out}, nil
}

func idempotencyKey(v Viewer, key, op string, input any) (domain.IdempotencyKey, error) {
	if err := domain.ValidateIdempotencyKey(key); err != nil {
		return domain.IdempotencyKey{}, err
	}
	return domain.IdempotencyKey{UserID: v.ID, Key: key, Fingerprint: domain.Fingerprint(op, input)}, nil
}

// replay returns the response kept for k, if any; a key kept for another
// request is refused (422), so a client bug never gets a wrong answer.
func (s *Service) replay(ctx context.Context, k domain.IdempotencyKey) (Response, bool, error) {
	r, ok, err := s.repo.StoredResponse(ctx, k.UserID, k.Key)
	if err != nil || !ok {
		return Response{}, false, err
	}
	if r.Fingerprint != k.Fingerprint {
		return Response{}, false, errs.Invalid("Idempotency-Key was already used for a different request")
	}
	return Response{Status: r.Status, Body: r.Body, Replayed: true}, true, nil
}

// replayRaced answers the loser of two concurrent requests with one key:
// the winner committed, so its response is there.
func (s *Service) replayRaced(ctx context.Context, k domain.IdempotencyKey) (Response, error) {
	r, ok, err := s.replay(ctx, k)
	if err != nil {
		return Response{}, err
	}
	if !ok { // expired in between: practically never, and safe to retry
		return Response{}, errs.Conflict("Idempotency-Key is being used by another request; retry")
	}
	return r, nil
}

// newWriting admits a new article or comment by the viewer: within their
// write limit, and by an account the blog can name (writer).
func (s *Service) newWriting(ctx context.Context, v Viewer) (AuthorView, error) {
	if err := s.allowWrite(ctx, v); err != nil {
		return AuthorView{}, err
	}
	return s.writer(ctx, v)
}

// writer returns the viewer as the author of a new article or comment: the
// current profile from the read model, else from the users service, so what
// is stored is today's username and not the one in an older token (a name
// given up since may belong to someone else later). A token whose account
// the users service no longer knows is refused. When the users service
// cannot answer, the token's name stands in (revocation of deleted
// accounts' tokens still applies, ADR 0011).
func (s *Service) writer(ctx context.Context, v Viewer) (AuthorView, error) {
	known, err := s.repo.Authors(ctx, []int64{v.ID})
	if err != nil {
		return AuthorView{}, fmt.Errorf("loading author %d: %w", v.ID, err)
	}
	if p, ok := known[v.ID]; ok {
		return AuthorView{Username: p.Username, Bio: p.Bio, Image: p.Image}, nil
	}
	ps, answered := s.lookupProfiles(ctx, []int64{v.ID})
	for _, p := range ps {
		if p.ID == v.ID {
			return AuthorView{Username: p.Username, Bio: p.Bio, Image: p.Image}, nil
		}
	}
	if answered {
		return AuthorView{}, errs.Unauthenticated("the account of this token no longer exists")
	}
	return AuthorView{Username: v.Username}, nil
}

// writtenArticleView is the view of an article that a write just returned,
// without asking the database what the write already knows: whether the
// viewer favorites it. Only the author is looked up (and whether the viewer
// follows them, which the store answers without a query for the viewer's
// own articles).
func (s *Service) writtenArticleView(ctx context.Context, v Viewer, a domain.Article, favorited bool) (ArticleView, error) {
	authors, _, err := s.authorViews(ctx, v, []authorRef{{id: a.AuthorID, username: a.AuthorUsername}})
	if err != nil {
		return ArticleView{}, err
	}
	return ArticleView{Article: a, Author: authors[a.AuthorID], Favorited: favorited}, nil
}

func (s *Service) checkCategory(ctx context.Context, slug string) error {
	if slug == "" {
		return nil
	}
	if !matchable(slug) {
		return errs.Invalid("category is unknown")
	}
	ok, err := s.repo.CategoryExists(ctx, slug)
	if err != nil {
		return err
	}
	if !ok {
		return errs.Invalid("category is unknown")
	}
	return nil
}

// UpdateArticle applies a patch to the viewer's article. A new title moves
// the article to a new slug; Draft false publishes a draft, true takes a
// published article back to draft (ADR 0020). Both change what every cached
// list, tag and category count shows: the generation moves, as for every
// article write, and the article's own cached rendering is forgotten.
func (s *Service) UpdateArticle(ctx context.Context, v Viewer, slug string, patch domain.ArticlePatch) (ArticleView, error) {
	if !matchable(slug) {
		return ArticleView{}, errs.NotFound("article")
	}
	if err := s.allowWrite(ctx, v); err != nil {
		return ArticleView{}, err
	}
	if patch.Category != nil {
		*patch.Category = strings.TrimSpace(*patch.Category)
		if err := s.checkCategory(ctx, *patch.Category); err != nil {
			return ArticleView{}, err
		}
	}
	a, err := s.repo.UpdateArticle(ctx, slug, func(cur domain.Article) (domain.ArticleInput, error) {
		if !cur.VisibleTo(v.ID) {
			return domain.ArticleInput{}, errs.NotFound("article")
		}
		if cur.AuthorID != v.ID {
			return domain.ArticleInput{}, errs.Forbidden("only the author may update this article")
		}
		in := patch.Apply(domain.ArticleInput{Title: cur.Title, Description: cur.Description, Body: cur.Body,
			Tags: cur.Tags, Category: cur.Category, Draft: cur.Draft}).Normalize()
		return in, in.Validate()
	})
	if err != nil {
		return ArticleView{}, err
	}
	s.forget(ctx, slug, a.Slug)
	s.changed(ctx, v)
	return s.articleView(ctx, v, a)
}

// DeleteArticle deletes the viewer's article.
func (s *Service) DeleteArticle(ctx context.Context, v Viewer, slug string) error {
	if !matchable(slug) {
		return errs.NotFound("article")
	}
	err := s.repo.DeleteArticle(ctx, slug, func(a domain.Article) error {
		if !a.VisibleTo(v.ID) {
			return errs.NotFound("article")
		}
		if a.AuthorID != v.ID {
			return errs.Forbidden("only the author may delete this article")
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.forget(ctx, slug)
	s.changed(ctx, v)
	return nil
}

// NewPreviewLink gives the viewer's draft a new preview link; the old one
// opens nothing from then on. Another user's draft is not found, a
// published article has no preview link.
func (s *Service) NewPreviewLink(ctx context.Context, v Viewer, slug string) (ArticleView, error) {
	if !matchable(slug) {
		return ArticleView{}, errs.NotFound("article")
	}
	if err := s.allowWrite(ctx, v); err != nil {
		return ArticleView{}, err
	}
	a, err := s.repo.NewPreviewToken(ctx, slug, func(a domain.Article) error {
		switch {
		case !a.VisibleTo(v.ID):
			return errs.NotFound("article")
		case a.AuthorID != v.ID:
			return errs.Forbidden("only the author may share a preview of this article")
		case !a.Draft:
			return errs.Invalid("article is published: only a draft has a preview link")
		}
		return nil
	})
	if err != nil {
		return ArticleView{}, err
	}
	// Nothing cached shows the token (lists leave it out, a draft's own
	// page is never cached), so nothing is invalidated.
	return s.articleView(ctx, v, a)
}

// forget deletes the cached renderings of one article (its old and new
// slugs): a changed or deleted article's own page is current for every
// viewer at once, not only within the staleness bound. A read that loaded
// before the write may store the old rendering again, stamped with an older
// generation and time; it is then served within the bound at most.
func (s *Service) forget(ctx context.Context, slugs ...string) {
	if !s.cacheOn() {
		return
	}
	keys := make([]string, len(slugs))
	for i, slug := range slugs {
		keys[i] = articleKey(slug)
	}
	s.cache.Delete(ctx, keys...)
}

// Favorite marks the article as a favorite of the viewer (idempotent).
func (s *Service) Favorite(ctx context.Context, v Viewer, slug string) (ArticleView, error) {
	return s.setFavorite(ctx, v, slug, true)
}

// Unfavorite removes the viewer's favorite (idempotent).
func (s *Service) Unfavorite(ctx context.Context, v Viewer, slug string) (ArticleView, error) {
	return s.setFavorite(ctx, v, slug, false)
}

func (s *Service) setFavorite(ctx context.Context, v Viewer, slug string, on bool) (ArticleView, error) {
	if !matchable(slug) {
		return ArticleView{}, errs.NotFound("article")
	}
	if err := s.allow(ctx, s.cfg.FavoritesPerUser, v); err != nil {
		return ArticleView{}, err
	}
	var a domain.Article
	var err error
	if on {
		a, err = s.repo.Favorite(ctx, slug, v.ID)
	} else {
		a, err = s.repo.Unfavorite(ctx, slug, v.ID)
	}
	if err != nil {
		return ArticleView{}, err
	}
	s.changed(ctx, v)
	return s.writtenArticleView(ctx, v, a, on)
}

// AddComment adds the viewer's comment to the article.
func (s *Service) AddComment(ctx context.Context, v Viewer, slug, body string) (CommentView, error) {
	if !matchable(slug) {
		return CommentView{}, errs.NotFound("article")
	}
	body = strings.TrimSpace(body)
	if err := domain.ValidateComment(body); err != nil {
		return CommentView{}, err
	}
	author, err := s.newWriting(ctx, v)
	if err != nil {
		return CommentView{}, err
	}
	c, err := s.repo.AddComment(ctx, slug, v.ID, author.Username, body)
	if err != nil {
		return CommentView{}, err
	}
	// No cached rendering shows comments (they are read uncached, and an
	// article carries no count of them), so nothing is invalidated.
	s.kick()
	return CommentView{Comment: c, Author: author}, nil
}

// Comments returns the article's comments, newest first.
func (s *Service) Comments(ctx context.Context, v Viewer, slug string) ([]CommentView, error) {
	if !matchable(slug) {
		return nil, errs.NotFound("article")
	}
	cs, err := s.repo.Comments(ctx, slug, v.ID)
	if err != nil {
		return nil, err
	}
	return s.commentViews(ctx, v, cs)
}

func (s *Service) commentViews(ctx context.Context, v Viewer, cs []domain.Comment) ([]CommentView, error) {
	out := make([]CommentView, len(cs))
	if len(cs) == 0 {
		return out, nil
	}
	refs := make([]authorRef, len(cs))
	for i, c := range cs {
		refs[i] = authorRef{id: c.AuthorID, username: c.AuthorUsername}
	}
	authors, _, err := s.authorViews(ctx, v, refs)
	if err != nil {
		return nil, err
	}
	for i, c := range cs {
		out[i] = CommentView{Comment: c, Author: authors[c.AuthorID]}
	}
	return out, nil
}

// DeleteComment deletes the viewer's comment.
func (s *Service) DeleteComment(ctx context.Context, v Viewer, slug string, id int64) error {
	if !matchable(slug) {
		return errs.NotFound("article")
	}
	err := s.repo.DeleteComment(ctx, slug, id, v.ID, func(c domain.Comment) error {
		if c.AuthorID != v.ID {
			return errs.Forbidden("only the author may delete this comment")
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.kick() // as AddComment: nothing cached shows comments
	return nil
}

// Tags returns the tags in use, most used first, as the API's JSON body.
// The viewer matters only for freshness: one who just wrote sees their tags.
func (s *Service) Tags(ctx context.Context, v Viewer) ([]byte, error) {
	key := ""
	if s.cacheOn() {
		key = tagsKey
	}
	r, _, _, err := s.cachedRendered(ctx, v, key, "", func() (Rendered, bool, error) {
		tags, err := s.repo.Tags(ctx, s.cfg.TagsLimit)
		if err != nil {
			return Rendered{}, false, fmt.Errorf("loading tags: %w", err)
		}
		return s.enc.Tags(tags), true, nil
	})
	if r == nil {
		return nil, err
	}
	return r.Bytes(nil, nil), nil
}

// Categories returns every category with its number of articles. The
// viewer matters only for freshness, as for Tags.
func (s *Service) Categories(ctx context.Context, v Viewer) ([]domain.Category, error) {
	key := ""
	if s.cacheOn() {
		key = categoriesKey
	}
	f := s.lookup(ctx, v, key)
	if f.hit {
		var cs []domain.Category
		if err := json.Unmarshal(f.payload, &cs); err == nil {
			return cs, nil
		}
	}
	asOf := s.now()
	cs, err := s.repo.Categories(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading categories: %w", err)
	}
	if b, err := json.Marshal(cs); err == nil {
		s.store(ctx, key, f.gen, asOf, b)
	}
	return cs, nil
}
