package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/tungsten-blog/tungsten/internal/blog/blogevents"
	"github.com/tungsten-blog/tungsten/internal/blog/domain"
	"github.com/tungsten-blog/tungsten/internal/platform/database"
	"github.com/tungsten-blog/tungsten/internal/platform/readingtime"
)

// Article returns the article with slug, body and tags included.
func (s *Store) Article(ctx context.Context, slug string) (domain.Article, error) {
	return s.loadArticle(ctx, s.db, slug, false)
}

func (s *Store) loadArticle(ctx context.Context, q database.Querier, slug string, lock bool) (domain.Article, error) {
	query := `SELECT ` + articleColumns + `, a.body FROM articles a WHERE a.slug = $1`
	if lock {
		query += s.forUpdate()
	}
	a, err := scanArticle(q.QueryRowContext(ctx, query, slug), true)
	if errors.Is(err, sql.ErrNoRows) {
		return domain.Article{}, errArticleNotFound()
	}
	if err != nil {
		return domain.Article{}, fmt.Errorf("loading article %q: %w", slug, err)
	}
	tags, err := s.tagsOf(ctx, q, []int64{a.ID})
	if err != nil {
		return domain.Article{}, err
	}
	a.Tags = tagsOrEmpty(tags[a.ID])
	return a, nil
}

// tagsOf loads the tags of many articles in one query, each list sorted.
func (s *Store) tagsOf(ctx context.Context, q database.Querier, ids []int64) (map[int64][]string, error) {
	out := make(map[int64][]string, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := q.QueryContext(ctx,
		`SELECT article_id, tag FROM article_tags WHERE article_id IN (`+inList(1, len(ids))+`)`, int64Args(ids)...)
	if err != nil {
		return nil, fmt.Errorf("loading tags: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var tag string
		if err := rows.Scan(&id, &tag); err != nil {
			return nil, fmt.Errorf("scanning tags: %w", err)
		}
		out[id] = append(out[id], tag)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("loading tags: %w", err)
	}
	for _, tags := range out {
		slices.Sort(tags) // byte order in Go, whatever the database's collation
	}
	return out, nil
}

func tagsOrEmpty(t []string) []string {
	if t == nil {
		return []string{}
	}
	return t
}

func insertTags(ctx context.Context, tx *database.Tx, articleID int64, tags []string) error {
	if len(tags) == 0 {
		return nil
	}
	var b strings.Builder
	args := make([]any, 0, len(tags)+1)
	args = append(args, articleID)
	b.WriteString(`INSERT INTO article_tags (article_id, tag) VALUES `)
	for i, t := range tags {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "($1,$%d)", i+2)
		args = append(args, t)
	}
	if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
		return fmt.Errorf("saving tags: %w", err)
	}
	return nil
}

// CreateArticle stores a new article by author, valid and normalized, under
// a free slug derived from its title, and enqueues blog.article.published;
// a draft gets a preview token instead, and no event.
func (s *Store) CreateArticle(ctx context.Context, in domain.ArticleInput, authorID int64, authorUsername string) (domain.Article, error) {
	return s.createArticle(ctx, in, authorID, authorUsername, nil)
}

// CreateArticleOnce is CreateArticle that also stores the key and rendered
// response of once in the same transaction; domain.ErrIdempotencyKeyUsed
// (and nothing stored) when the user's key is taken.
func (s *Store) CreateArticleOnce(ctx context.Context, in domain.ArticleInput, authorID int64, authorUsername string,
	once domain.Once[domain.Article]) (domain.Article, error) {
	return s.createArticle(ctx, in, authorID, authorUsername, &once)
}

func (s *Store) createArticle(ctx context.Context, in domain.ArticleInput, authorID int64, authorUsername string,
	once *domain.Once[domain.Article]) (domain.Article, error) {
	base := domain.Slugify(in.Title)
	var a domain.Article
	err := s.transactSlug(ctx, func(tx *database.Tx) error {
		slug, err := s.freeSlug(ctx, tx, base, 0)
		if err != nil {
			return err
		}
		now := s.now()
		ms := now.UnixMilli()
		var id int64
		minutes := readingtime.Minutes(in.Body) // lists show it without loading bodies
		token := ""
		if in.Draft {
			token = domain.NewPreviewToken()
		}
		err = tx.QueryRowContext(ctx, `INSERT INTO articles
			(slug, title, description, body, author_id, author_username, category, favorites_count, created_at, updated_at,
			reading_minutes, draft, preview_token)
			VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $8, $9, $10, $11) RETURNING id`,
			slug, in.Title, in.Description, in.Body, authorID, authorUsername, nullIfEmpty(in.Category), ms, minutes,
			in.Draft, nullIfEmpty(token)).Scan(&id)
		if err != nil {
			return fmt.Errorf("inserting article: %w", err)
		}
		if err := insertTags(ctx, tx, id, in.Tags); err != nil {
			return err
		}
		a = domain.Article{
			ID: id, Slug: slug, Title: in.Title, Description: in.Description, Body: in.Body,
			Tags: tagsOrEmpty(slices.Clone(in.Tags)), AuthorID: authorID, AuthorUsername: authorUsername,
			Category: in.Category, CreatedAt: domain.FromMillis(ms), UpdatedAt: domain.FromMillis(ms),
			ReadingMinutes: minutes, Draft: in.Draft, PreviewToken: token,
		}
		// A draft is not searchable and tells nobody: it is indexed and
		// announced when it is published (UpdateArticle).
		if !in.Draft {
			if err := s.indexArticle(ctx, tx, id, in.Title, in.Description, in.Body); err != nil {
				return err
			}
			if err := s.enqueue(ctx, tx, blogevents.ArticlePublished, blogevents.Article{Version: blogevents.Version,
				ArticleID: id, Slug: slug, AuthorID: authorID, Category: in.Category, At: ms}); err != nil {
				return err
			}
		}
		if once == nil {
			return nil
		}
		return s.recordOnce(ctx, tx, once.IdempotencyKey, once.Status, func() ([]byte, error) { return once.Render(a) })
	})
	if err != nil {
		return domain.Article{}, fmt.Errorf("creating article: %w", err)
	}
	return a, nil
}

// UpdateArticle loads the article (locked), lets update compute its new
// state from the current one, and saves it. A new title that no longer fits
// the slug moves the article to a new slug. update may run more than once.
// Publishing a draft (Draft true to false) indexes it, dates it now and
// enqueues blog.article.published; taking a published article back to draft
// drops it from the search index, gives it a new preview token and enqueues
// blog.article.unpublished; a draft's edits enqueue nothing.
func (s *Store) UpdateArticle(ctx context.Context, slug string,
	update func(cur domain.Article) (domain.ArticleInput, error)) (domain.Article, error) {
	var a domain.Article
	err := s.transactSlug(ctx, func(tx *database.Tx) error {
		cur, err := s.loadArticle(ctx, tx, slug, true)
		if err != nil {
			return err
		}
		in, err := update(cur)
		if err != nil {
			return err
		}
		newSlug := cur.Slug
		if in.Title != cur.Title && !domain.SlugFitsTitle(cur.Slug, in.Title) {
			if newSlug, err = s.freeSlug(ctx, tx, domain.Slugify(in.Title), cur.ID); err != nil {
				return err
			}
		}
		ms := max(s.now().UnixMilli(), cur.CreatedAt.UnixMilli())
		minutes := readingtime.Minutes(in.Body)
		created, token := cur.CreatedAt.UnixMilli(), cur.PreviewToken
		publishing, unpublishing := cur.Draft && !in.Draft, !cur.Draft && in.Draft
		switch {
		case publishing:
			// Lists and feeds are newest first: a published draft is new.
			created, token = ms, ""
		case unpublishing:
			token = domain.NewPreviewToken() // links given out earlier stay dead
		}
		_, err = tx.ExecContext(ctx, `UPDATE articles SET slug = $1, title = $2, description = $3, body = $4,
			category = $5, updated_at = $6, reading_minutes = $7, draft = $8, preview_token = $9, created_at = $10
			WHERE id = $11`,
			newSlug, in.Title, in.Description, in.Body, nullIfEmpty(in.Category), ms, minutes, in.Draft,
			nullIfEmpty(token), created, cur.ID)
		if err != nil {
			return fmt.Errorf("updating article: %w", err)
		}
		switch {
		case in.Draft:
			if err := s.unindexArticle(ctx, tx, cur.ID); err != nil {
				return err
			}
		case publishing || in.Title != cur.Title || in.Description != cur.Description || in.Body != cur.Body:
			if err := s.indexArticle(ctx, tx, cur.ID, in.Title, in.Description, in.Body); err != nil {
				return err
			}
		}
		if !slices.Equal(in.Tags, cur.Tags) {
			if _, err := tx.ExecContext(ctx, `DELETE FROM article_tags WHERE article_id = $1`, cur.ID); err != nil {
				return fmt.Errorf("replacing tags: %w", err)
			}
			if err := insertTags(ctx, tx, cur.ID, in.Tags); err != nil {
				return err
			}
		}
		a = cur
		a.Slug, a.Title, a.Description, a.Body = newSlug, in.Title, in.Description, in.Body
		a.ReadingMinutes, a.Draft, a.PreviewToken = minutes, in.Draft, token
		a.Tags, a.Category, a.UpdatedAt = tagsOrEmpty(slices.Clone(in.Tags)), in.Category, domain.FromMillis(ms)
		a.CreatedAt = domain.FromMillis(created)
		ev := blogevents.Article{Version: blogevents.Version, ArticleID: cur.ID, Slug: newSlug, AuthorID: cur.AuthorID, Category: in.Category, At: ms}
		switch {
		case publishing: // what creating a published article enqueues
			return s.enqueue(ctx, tx, blogevents.ArticlePublished, ev)
		case unpublishing:
			ev.Slug = cur.Slug // the slug others knew it by
			return s.enqueue(ctx, tx, blogevents.ArticleUnpublished, ev)
		case in.Draft:
			return nil // a draft's edits are nobody else's business
		}
		if newSlug != cur.Slug {
			ev.PreviousSlug = cur.Slug
		}
		return s.enqueue(ctx, tx, blogevents.ArticleUpdated, ev)
	})
	if err != nil {
		return domain.Article{}, fmt.Errorf("updating article %q: %w", slug, err)
	}
	return a, nil
}

// DeleteArticle deletes the article (with its tags, comments and favorites)
// if check allows it, and enqueues blog.article.deleted (a draft's deletion
// enqueues nothing).
func (s *Store) DeleteArticle(ctx context.Context, slug string, check func(domain.Article) error) error {
	err := s.db.Transact(ctx, func(tx *database.Tx) error {
		a, err := s.loadArticle(ctx, tx, slug, true)
		if err != nil {
			return err
		}
		if err := check(a); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM articles WHERE id = $1`, a.ID); err != nil {
			return fmt.Errorf("deleting article: %w", err)
		}
		if a.Draft {
			return nil // nobody else knew it
		}
		return s.enqueue(ctx, tx, blogevents.ArticleDeleted, blogevents.Article{Version: blogevents.Version,
			ArticleID: a.ID, Slug: a.Slug, AuthorID: a.AuthorID, Category: a.Category, At: s.now().UnixMilli()})
	})
	if err != nil {
		return fmt.Errorf("deleting article %q: %w", slug, err)
	}
	return nil
}

// Favorite records that user favorites the article; doing it twice changes
// nothing. Another user's draft is not found. The denormalized favorites_count moves in the same transaction.
func (s *Store) Favorite(ctx context.Context, slug string, userID int64) (domain.Article, error) {
	return s.setFavorite(ctx, slug, userID, true)
}

// Unfavorite removes user's favorite, if any.
func (s *Store) Unfavorite(ctx context.Context, slug string, userID int64) (domain.Article, error) {
	return s.setFavorite(ctx, slug, userID, false)
}

func (s *Store) setFavorite(ctx context.Context, slug string, userID int64, on bool) (domain.Article, error) {
	var a domain.Article
	err := s.db.Transact(ctx, func(tx *database.Tx) error {
		var err error
		if a, err = s.loadArticle(ctx, tx, slug, true); err != nil {
			return err
		}
		if !a.VisibleTo(userID) {
			return errArticleNotFound()
		}
		ms := s.now().UnixMilli()
		var res sql.Result
		if on {
			res, err = tx.ExecContext(ctx, `INSERT INTO favorites (article_id, user_id, created_at) VALUES ($1, $2, $3)
				ON CONFLICT (article_id, user_id) DO NOTHING`, a.ID, userID, ms)
		} else {
			res, err = tx.ExecContext(ctx, `DELETE FROM favorites WHERE article_id = $1 AND user_id = $2`, a.ID, userID)
		}
		if err != nil {
			return fmt.Errorf("saving favorite: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err // unchanged: no count update, no event
		}
		delta, eventType := 1, blogevents.ArticleFavorited
		if !on {
			delta, eventType = -1, blogevents.ArticleUnfavorited
		}
		if err := tx.QueryRowContext(ctx, `UPDATE articles SET favorites_count = favorites_count + $1 WHERE id = $2
			RETURNING favorites_count`, delta, a.ID).Scan(&a.FavoritesCount); err != nil {
			return fmt.Errorf("counting favorites: %w", err)
		}
		return s.enqueue(ctx, tx, eventType, blogevents.Favorite{Version: blogevents.Version,
			ArticleID: a.ID, Slug: a.Slug, AuthorID: a.AuthorID, UserID: userID, FavoritesCount: a.FavoritesCount, At: ms})
	})
	if err != nil {
		return domain.Article{}, fmt.Errorf("favoriting %q: %w", slug, err)
	}
	return a, nil
}

// FavoritedBy returns which of ids user has favorited.
func (s *Store) FavoritedBy(ctx context.Context, userID int64, ids []int64) (map[int64]bool, error) {
	out := map[int64]bool{}
	if userID == 0 || len(ids) == 0 {
		return out, nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT article_id FROM favorites WHERE user_id = $1 AND article_id IN (`+
		inList(2, len(ids))+`)`, append([]any{userID}, int64Args(ids)...)...)
	if err != nil {
		return nil, fmt.Errorf("loading favorites: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("scanning favorites: %w", err)
		}
		out[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("loading favorites: %w", err)
	}
	return out, nil
}

// Tags returns up to limit distinct tags of published articles, most used
// first (ties by name).
func (s *Store) Tags(ctx context.Context, limit int) ([]string, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT t.tag FROM article_tags t JOIN articles a ON a.id = t.article_id WHERE a.draft = $1
		GROUP BY t.tag ORDER BY COUNT(*) DESC, t.tag LIMIT $2`, false, limit)
	if err != nil {
		return nil, fmt.Errorf("loading tags: %w", err)
	}
	defer rows.Close()
	tags := []string{}
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, fmt.Errorf("scanning tags: %w", err)
		}
		tags = append(tags, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("loading tags: %w", err)
	}
	return tags, nil
}

// Categories returns every category in its fixed order, with the counts of
// their published articles.
func (s *Store) Categories(ctx context.Context) ([]domain.Category, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT c.slug, c.name, c.color, COUNT(a.id)
		FROM categories c LEFT JOIN articles a ON a.category = c.slug AND a.draft = $1
		GROUP BY c.slug, c.name, c.color, c.position ORDER BY c.position`, false)
	if err != nil {
		return nil, fmt.Errorf("loading categories: %w", err)
	}
	defer rows.Close()
	out := []domain.Category{}
	for rows.Next() {
		var c domain.Category
		if err := rows.Scan(&c.Slug, &c.Name, &c.Color, &c.ArticlesCount); err != nil {
			return nil, fmt.Errorf("scanning categories: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("loading categories: %w", err)
	}
	return out, nil
}

// CategoryExists reports whether slug names a category.
func (s *Store) CategoryExists(ctx context.Context, slug string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT 1 FROM categories WHERE slug = $1`, slug).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("checking category %q: %w", slug, err)
	}
	return true, nil
}

// ArticleByPreviewToken returns the draft whose preview token is token;
// not found when no draft has it (a published article's link is dead).
func (s *Store) ArticleByPreviewToken(ctx context.Context, token string) (domain.Article, error) {
	var slug string
	err := s.db.QueryRowContext(ctx, `SELECT slug FROM articles WHERE preview_token = $1 AND draft = $2`, token, true).Scan(&slug)
	if errors.Is(err, sql.ErrNoRows) {
		return domain.Article{}, errArticleNotFound()
	}
	if err != nil {
		return domain.Article{}, fmt.Errorf("finding a draft by its preview token: %w", err)
	}
	a, err := s.Article(ctx, slug)
	if err == nil && a.PreviewToken != token { // a new link replaced it between the two reads
		return domain.Article{}, errArticleNotFound()
	}
	return a, err
}

// NewPreviewToken gives the draft under slug a new preview token, if check
// allows it; the old link opens nothing from then on.
func (s *Store) NewPreviewToken(ctx context.Context, slug string, check func(domain.Article) error) (domain.Article, error) {
	var a domain.Article
	err := s.db.Transact(ctx, func(tx *database.Tx) error {
		var err error
		if a, err = s.loadArticle(ctx, tx, slug, true); err != nil {
			return err
		}
		if err := check(a); err != nil {
			return err
		}
		a.PreviewToken = domain.NewPreviewToken()
		if _, err := tx.ExecContext(ctx, `UPDATE articles SET preview_token = $1 WHERE id = $2`, a.PreviewToken, a.ID); err != nil {
			return fmt.Errorf("saving the preview token: %w", err)
		}
		return nil
	})
	if err != nil {
		return domain.Article{}, fmt.Errorf("renewing the preview link of %q: %w", slug, err)
	}
	return a, nil
}
