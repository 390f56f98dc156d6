package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/tungsten-blog/tungsten/internal/blog/blogevents"
	"github.com/tungsten-blog/tungsten/internal/blog/domain"
	"github.com/tungsten-blog/tungsten/internal/platform/database"
	"github.com/tungsten-blog/tungsten/internal/platform/errs"
)

// articleRef resolves a slug to the article's ID and author; another
// user's draft (viewerID 0: anonymous) is not found.
func articleRef(ctx context.Context, q database.Querier, slug string, viewerID int64) (id, authorID int64, err error) {
	var draft bool
	err = q.QueryRowContext(ctx, `SELECT id, author_id, draft FROM articles WHERE slug = $1`, slug).Scan(&id, &authorID, &draft)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, errArticleNotFound()
	}
	if err != nil {
		return 0, 0, fmt.Errorf("finding article %q: %w", slug, err)
	}
	if !(domain.Article{AuthorID: authorID, Draft: draft}).VisibleTo(viewerID) {
		return 0, 0, errArticleNotFound()
	}
	return id, authorID, nil
}

// AddComment stores a comment on the article and enqueues blog.comment.added;
// another user's draft is not found.
func (s *Store) AddComment(ctx context.Context, slug string, authorID int64, authorUsername, body string) (domain.Comment, error) {
	return s.addComment(ctx, slug, authorID, authorUsername, body, nil)
}

// AddCommentOnce is AddComment that also stores the key and rendered
// response of once in the same transaction, as CreateArticleOnce.
func (s *Store) AddCommentOnce(ctx context.Context, slug string, authorID int64, authorUsername, body string,
	once domain.Once[domain.Comment]) (domain.Comment, error) {
	return s.addComment(ctx, slug, authorID, authorUsername, body, &once)
}

func (s *Store) addComment(ctx context.Context, slug string, authorID int64, authorUsername, body string,
	once *domain.Once[domain.Comment]) (domain.Comment, error) {
	var c domain.Comment
	err := s.db.Transact(ctx, func(tx *database.Tx) error {
		articleID, _, err := articleRef(ctx, tx, slug, authorID)
		if err != nil {
			return err
		}
		ms := s.now().UnixMilli()
		var id int64
		if err := tx.QueryRowContext(ctx, `INSERT INTO comments (article_id, author_id, author_username, body, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $5) RETURNING id`, articleID, authorID, authorUsername, body, ms).Scan(&id); err != nil {
			return fmt.Errorf("inserting comment: %w", err)
		}
		c = domain.Comment{ID: id, ArticleID: articleID, AuthorID: authorID, AuthorUsername: authorUsername, Body: body,
			CreatedAt: domain.FromMillis(ms), UpdatedAt: domain.FromMillis(ms)}
		if err := s.enqueue(ctx, tx, blogevents.CommentAdded, blogevents.Comment{Version: blogevents.Version,
			CommentID: id, ArticleID: articleID, Slug: slug, AuthorID: authorID, At: ms}); err != nil {
			return err
		}
		if once == nil {
			return nil
		}
		return s.recordOnce(ctx, tx, once.IdempotencyKey, once.Status, func() ([]byte, error) { return once.Render(c) })
	})
	if err != nil {
		return domain.Comment{}, fmt.Errorf("adding comment to %q: %w", slug, err)
	}
	return c, nil
}

// Comments returns the article's comments, newest first, as viewerID sees
// them (another user's draft is not found).
func (s *Store) Comments(ctx context.Context, slug string, viewerID int64) ([]domain.Comment, error) {
	articleID, _, err := articleRef(ctx, s.db, slug, viewerID)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, article_id, author_id, author_username, body, created_at, updated_at
		FROM comments WHERE article_id = $1 ORDER BY created_at DESC, id DESC`, articleID)
	if err != nil {
		return nil, fmt.Errorf("loading comments of %q: %w", slug, err)
	}
	defer rows.Close()
	out := []domain.Comment{}
	for rows.Next() {
		var c domain.Comment
		var created, updated int64
		if err := rows.Scan(&c.ID, &c.ArticleID, &c.AuthorID, &c.AuthorUsername, &c.Body, &created, &updated); err != nil {
			return nil, fmt.Errorf("scanning comments: %w", err)
		}
		c.CreatedAt, c.UpdatedAt = domain.FromMillis(created), domain.FromMillis(updated)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("loading comments of %q: %w", slug, err)
	}
	return out, nil
}

// DeleteComment deletes comment id of the article if check allows it, and
// enqueues blog.comment.deleted. A comment of another article, or of a
// draft viewerID does not see, is not found.
func (s *Store) DeleteComment(ctx context.Context, slug string, id, viewerID int64, check func(domain.Comment) error) error {
	err := s.db.Transact(ctx, func(tx *database.Tx) error {
		articleID, _, err := articleRef(ctx, tx, slug, viewerID)
		if err != nil {
			return err
		}
		var c domain.Comment
		var created, updated int64
		err = tx.QueryRowContext(ctx, `SELECT id, article_id, author_id, author_username, body, created_at, updated_at
			FROM comments WHERE id = $1 AND article_id = $2`, id, articleID).
			Scan(&c.ID, &c.ArticleID, &c.AuthorID, &c.AuthorUsername, &c.Body, &created, &updated)
		if errors.Is(err, sql.ErrNoRows) {
			return errs.NotFound("comment")
		}
		if err != nil {
			return fmt.Errorf("loading comment %d: %w", id, err)
		}
		c.CreatedAt, c.UpdatedAt = domain.FromMillis(created), domain.FromMillis(updated)
		if err := check(c); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM comments WHERE id = $1`, id); err != nil {
			return fmt.Errorf("deleting comment %d: %w", id, err)
		}
		return s.enqueue(ctx, tx, blogevents.CommentDeleted, blogevents.Comment{Version: blogevents.Version,
			CommentID: id, ArticleID: articleID, Slug: slug, AuthorID: c.AuthorID, At: s.now().UnixMilli()})
	})
	if err != nil {
		return fmt.Errorf("deleting comment %d of %q: %w", id, slug, err)
	}
	return nil
}
