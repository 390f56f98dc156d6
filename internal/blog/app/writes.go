package app

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/tungsten-blog/tungsten/internal/blog/domain"
	"github.com/tungsten-blog/tungsten/internal/platform/errs"
)

// CreateArticle publishes a new article by the viewer.
func (s *Service) CreateArticle(ctx context.Context, v Viewer, in domain.ArticleInput) (ArticleView, error) {
	in = in.Normalize()
	if err := in.Validate(); err != nil {
		return ArticleView{}, err
	}
	if err := s.checkCategory(ctx, in.Category); err != nil {
		return ArticleView{}, err
	}
	a, err := s.repo.CreateArticle(ctx, in, v.ID, v.Username)
	if err != nil {
		return ArticleView{}, err
	}
	s.changed(ctx)
	return s.writtenArticleView(ctx, v, a, false) // nobody can have favorited it yet
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
// the article to a new slug.
func (s *Service) UpdateArticle(ctx context.Context, v Viewer, slug string, patch domain.ArticlePatch) (ArticleView, error) {
	if !matchable(slug) {
		return ArticleView{}, errs.NotFound("article")
	}
	if patch.Category != nil {
		*patch.Category = strings.TrimSpace(*patch.Category)
		if err := s.checkCategory(ctx, *patch.Category); err != nil {
			return ArticleView{}, err
		}
	}
	a, err := s.repo.UpdateArticle(ctx, slug, func(cur domain.Article) (domain.ArticleInput, error) {
		if cur.AuthorID != v.ID {
			return domain.ArticleInput{}, errs.Forbidden("only the author may update this article")
		}
		in := patch.Apply(domain.ArticleInput{Title: cur.Title, Description: cur.Description, Body: cur.Body,
			Tags: cur.Tags, Category: cur.Category}).Normalize()
		return in, in.Validate()
	})
	if err != nil {
		return ArticleView{}, err
	}
	s.changed(ctx)
	return s.articleView(ctx, v, a)
}

// DeleteArticle deletes the viewer's article.
func (s *Service) DeleteArticle(ctx context.Context, v Viewer, slug string) error {
	if !matchable(slug) {
		return errs.NotFound("article")
	}
	err := s.repo.DeleteArticle(ctx, slug, func(a domain.Article) error {
		if a.AuthorID != v.ID {
			return errs.Forbidden("only the author may delete this article")
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.changed(ctx)
	return nil
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
	s.changed(ctx)
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
	c, err := s.repo.AddComment(ctx, slug, v.ID, v.Username, body)
	if err != nil {
		return CommentView{}, err
	}
	s.changed(ctx)
	views, err := s.commentViews(ctx, v, []domain.Comment{c})
	if err != nil {
		return CommentView{}, err
	}
	return views[0], nil
}

// Comments returns the article's comments, newest first.
func (s *Service) Comments(ctx context.Context, v Viewer, slug string) ([]CommentView, error) {
	if !matchable(slug) {
		return nil, errs.NotFound("article")
	}
	cs, err := s.repo.Comments(ctx, slug)
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
	err := s.repo.DeleteComment(ctx, slug, id, func(c domain.Comment) error {
		if c.AuthorID != v.ID {
			return errs.Forbidden("only the author may delete this comment")
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.changed(ctx)
	return nil
}

// Tags returns the tags in use, most used first, as the API's JSON body.
func (s *Service) Tags(ctx context.Context) ([]byte, error) {
	key := ""
	if s.cacheOn() {
		key = tagsKey
	}
	r, _, _, err := s.cachedRendered(ctx, key, "", func() (Rendered, bool, error) {
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

// Categories returns every category with its number of articles.
func (s *Service) Categories(ctx context.Context) ([]domain.Category, error) {
	key := ""
	if s.cacheOn() {
		key = categoriesKey
	}
	payload, gen, hit := s.lookup(ctx, key)
	if hit {
		var cs []domain.Category
		if err := json.Unmarshal(payload, &cs); err == nil {
			return cs, nil
		}
	}
	cs, err := s.repo.Categories(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading categories: %w", err)
	}
	if b, err := json.Marshal(cs); err == nil {
		s.store(ctx, key, gen, b)
	}
	return cs, nil
}
