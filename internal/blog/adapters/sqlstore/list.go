package sqlstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/tungsten-blog/tungsten/internal/blog/adapters/sqlstore/fts5"
	"github.com/tungsten-blog/tungsten/internal/blog/domain"
	"github.com/tungsten-blog/tungsten/internal/platform/database"
)

// ListArticles returns one page of articles matching q, newest first
// (created_at, then id, descending), without bodies, and the total number
// of matches. It runs three queries whatever the page size: page, count and
// the page's tags. Search results are ordered the same way, not by rank, so
// that paging through them is stable.
func (s *Store) ListArticles(ctx context.Context, q domain.ListQuery) (domain.Page, error) {
	where, args := s.where(q)
	page := domain.Page{Articles: []domain.Article{}}
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM articles a`+where, args...).Scan(&page.Total); err != nil {
		return domain.Page{}, fmt.Errorf("counting articles: %w", err)
	}
	if page.Total == 0 || int64(q.Offset) >= page.Total || q.Limit <= 0 {
		return page, nil
	}
	n := len(args)
	rows, err := s.db.QueryContext(ctx, `SELECT `+articleColumns+` FROM articles a`+where+
		` ORDER BY a.created_at DESC, a.id DESC LIMIT $`+strconv.Itoa(n+1)+` OFFSET $`+strconv.Itoa(n+2),
		append(args, q.Limit, q.Offset)...)
	if err != nil {
		return domain.Page{}, fmt.Errorf("listing articles: %w", err)
	}
	defer rows.Close()
	ids := make([]int64, 0, q.Limit)
	for rows.Next() {
		a, err := scanArticle(rows, false)
		if err != nil {
			return domain.Page{}, fmt.Errorf("scanning articles: %w", err)
		}
		page.Articles = append(page.Articles, a)
		ids = append(ids, a.ID)
	}
	if err := rows.Err(); err != nil {
		return domain.Page{}, fmt.Errorf("listing articles: %w", err)
	}
	tags, err := s.tagsOf(ctx, s.db, ids)
	if err != nil {
		return domain.Page{}, err
	}
	for i := range page.Articles {
		page.Articles[i].Tags = tagsOrEmpty(tags[page.Articles[i].ID])
	}
	return page, nil
}

// where builds the WHERE clause of a list query and its arguments.
func (s *Store) where(q domain.ListQuery) (string, []any) {
	var conds []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if q.Tag != "" {
		conds = append(conds, `a.id IN (SELECT article_id FROM article_tags WHERE tag = `+arg(q.Tag)+`)`)
	}
	if q.AuthorID != 0 {
		conds = append(conds, `a.author_id = `+arg(q.AuthorID))
	}
	if q.FavoritedBy != 0 {
		conds = append(conds, `a.id IN (SELECT article_id FROM favorites WHERE user_id = `+arg(q.FavoritedBy)+`)`)
	}
	if q.Category != "" {
		conds = append(conds, `a.category = `+arg(q.Category))
	}
	if q.FollowedBy != 0 {
		conds = append(conds, `a.author_id IN (SELECT followee_id FROM author_follows WHERE follower_id = `+
			arg(q.FollowedBy)+` AND following = `+arg(true)+`)`)
	}
	if len(q.Terms) > 0 {
		if s.db.Dialect == database.Postgres {
			conds = append(conds, `a.search @@ plainto_tsquery('simple', `+arg(strings.Join(q.Terms, " "))+`)`)
		} else {
			conds = append(conds, `a.id IN (SELECT rowid FROM articles_fts WHERE articles_fts MATCH `+arg(fts5.Match(q.Terms))+`)`)
		}
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}
