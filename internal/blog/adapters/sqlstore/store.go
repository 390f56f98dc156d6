// Package sqlstore is the blog's repository: one implementation over
// *database.DB whose statements, written with $N placeholders, run on both
// PostgreSQL and SQLite. It branches on the dialect only for full-text search
// and row locks. Every write that other services may care about enqueues its
// event in the outbox within the same transaction.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/propagation"

	"github.com/tungsten-blog/tungsten/internal/blog/domain"
	"github.com/tungsten-blog/tungsten/internal/platform/database"
	"github.com/tungsten-blog/tungsten/internal/platform/errs"
	"github.com/tungsten-blog/tungsten/internal/platform/events"
)

// Store is the SQL repository of the blog.
type Store struct {
	db   *database.DB
	prop propagation.TextMapPropagator
	now  func() time.Time

	maxMatches   int // MaxSearchMatches; smaller in tests
	searchWindow int // SearchWindowRows; smaller in tests
}

// New returns a store over db. prop stores the trace context with outbox
// events; now is the clock (nil: time.Now).
func New(db *database.DB, prop propagation.TextMapPropagator, now func() time.Time) *Store {
	if prop == nil {
		prop = propagation.NewCompositeTextMapPropagator()
	}
	if now == nil {
		now = time.Now
	}
	return &Store{db: db, prop: prop, now: now, maxMatches: MaxSearchMatches, searchWindow: SearchWindowRows}
}

// slugAttempts bounds the retries of a write whose slug was taken by a
// concurrent writer between our check and our insert.
const slugAttempts = 5

// transactSlug runs fn in a transaction and runs it again (in a new one) when
// it failed on a unique violation, which for article writes means a slug
// race: fn picks a free slug afresh each time.
func (s *Store) transactSlug(ctx context.Context, fn func(tx *database.Tx) error) error {
	var err error
	for range slugAttempts {
		err = s.db.Transact(ctx, fn)
		if err == nil || !database.IsUniqueViolation(err) || ctx.Err() != nil {
			return err
		}
	}
	return fmt.Errorf("finding a free slug after %d attempts: %w", slugAttempts, err)
}

// freeSlug returns base if no other article (than exceptID) uses it and it
// is not reserved, else base with a random suffix that is free.
func (s *Store) freeSlug(ctx context.Context, q database.Querier, base string, exceptID int64) (string, error) {
	candidate := base
	for range 8 {
		if !domain.IsReservedSlug(candidate) {
			var id int64
			err := q.QueryRowContext(ctx, `SELECT id FROM articles WHERE slug = $1`, candidate).Scan(&id)
			if errors.Is(err, sql.ErrNoRows) || err == nil && id == exceptID {
				return candidate, nil
			}
			if err != nil {
				return "", fmt.Errorf("checking slug %q: %w", candidate, err)
			}
		}
		candidate = domain.SuffixedSlug(base)
	}
	return "", fmt.Errorf("no free slug for %q", base)
}

// forUpdate locks the selected rows on PostgreSQL; SQLite transactions hold
// the database's write lock from the start (_txlock=immediate).
func (s *Store) forUpdate() string {
	if s.db.Dialect == database.Postgres {
		return " FOR UPDATE"
	}
	return ""
}

// inList returns "$first,...,$(first+n-1)".
func inList(first, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(first + i))
	}
	return b.String()
}

func int64Args(ids []int64) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (s *Store) enqueue(ctx context.Context, tx *database.Tx, eventType string, payload any) error {
	if err := events.Enqueue(ctx, tx, s.prop, eventType, payload); err != nil {
		return fmt.Errorf("enqueueing %s: %w", eventType, err)
	}
	return nil
}

func errArticleNotFound() error { return errs.NotFound("article") }

// articleColumns are the columns of a list row (no body).
const articleColumns = `a.id, a.slug, a.title, a.description, a.author_id, a.author_username, a.category,
	a.favorites_count, a.created_at, a.updated_at, a.reading_minutes, a.draft, a.preview_token`

type scanner interface{ Scan(dest ...any) error }

func scanArticle(row scanner, withBody bool) (domain.Article, error) {
	var a domain.Article
	var category sql.NullString
	var created, updated int64
	var minutes sql.NullInt64
	var token sql.NullString
	dest := []any{&a.ID, &a.Slug, &a.Title, &a.Description, &a.AuthorID, &a.AuthorUsername, &category,
		&a.FavoritesCount, &created, &updated, &minutes, &a.Draft, &token}
	if withBody {
		dest = append(dest, &a.Body)
	}
	if err := row.Scan(dest...); err != nil {
		return domain.Article{}, err
	}
	a.Category = category.String
	a.PreviewToken = token.String
	a.ReadingMinutes = int(minutes.Int64)
	a.CreatedAt, a.UpdatedAt = domain.FromMillis(created), domain.FromMillis(updated)
	a.Tags = []string{}
	return a, nil
}
