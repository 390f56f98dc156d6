package sqlstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/tungsten-blog/tungsten/internal/blog/domain"
	"github.com/tungsten-blog/tungsten/internal/blog/search"
	"github.com/tungsten-blog/tungsten/internal/platform/database"
	"github.com/tungsten-blog/tungsten/internal/platform/readingtime"
)

// snippetBodyRunes is how much of each body a search page loads to cut its
// snippets from: a page costs at most limit times this, whatever the bodies.
const snippetBodyRunes = 10_000

// ListArticles returns one page of articles matching q, without bodies, and
// the total number of matches. It runs three queries whatever the page size:
// page, count and the page's tags. Lists are newest first (created_at, then
// id, descending); search results are ranked, best first (a match in the
// title weighs more than one in the description, which weighs more than one
// in the body), ties newest first, so paging through them is stable, and
// carry a snippet of where they matched. A search considers the newest
// MaxSearchMatches text matches only.
func (s *Store) ListArticles(ctx context.Context, q domain.ListQuery) (domain.Page, error) {
	page := domain.Page{Articles: []domain.Article{}}
	if len(q.Terms) > 0 && len(search.Segments(q.Terms)) == 0 {
		return page, nil // no token to look for (SearchTerms never gives such terms)
	}
	window, err := s.searchWindowStart(ctx, q)
	if err != nil {
		return domain.Page{}, err
	}
	from, where, order, args := s.listSQL(q, window)
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+from+where, args...).Scan(&page.Total); err != nil {
		return domain.Page{}, fmt.Errorf("counting articles: %w", err)
	}
	if page.Total == 0 || int64(q.Offset) >= page.Total || q.Limit <= 0 {
		return page, nil
	}
	n := len(args)
	cols := articleColumns
	searching := len(q.Terms) > 0
	if searching {
		cols += `, substr(a.body, 1, ` + strconv.Itoa(snippetBodyRunes) + `)`
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+cols+` FROM `+from+where+
		` ORDER BY `+order+`a.created_at DESC, a.id DESC LIMIT $`+strconv.Itoa(n+1)+` OFFSET $`+strconv.Itoa(n+2),
		append(args, q.Limit, q.Offset)...)
	if err != nil {
		return domain.Page{}, fmt.Errorf("listing articles: %w", err)
	}
	defer rows.Close()
	ids := make([]int64, 0, q.Limit)
	for rows.Next() {
		a, err := scanArticle(rows, searching)
		if err != nil {
			return domain.Page{}, fmt.Errorf("scanning articles: %w", err)
		}
		if searching {
			a.Snippet = search.Snippet(q.Terms, a.Body, a.Description, a.Title)
			a.Body = ""
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

// MaxSearchMatches bounds the work of one search, whatever the query and
// however many articles there are: only the newest MaxSearchMatches articles
// whose text matches are ranked (and then filtered by tag, author...), and
// a search counts at most that many (ADR 0015). Ranking every match cost
// seconds at 100k articles for a word most articles hold.
const MaxSearchMatches = 1000

// SearchWindowRows is how many of the newest articles a PostgreSQL search
// looks among first.
const SearchWindowRows = 5_000

// searchWindow returns the id above which the newest MaxSearchMatches text
// matches of a PostgreSQL search lie (0: anywhere). PostgreSQL's GIN index
// yields matches in no order, so picking the newest 1,000 of a common word
// visited every matching row: 1 s at 100k articles. When the newest
// SearchWindowRows articles hold MaxSearchMatches matches, those are the
// newest 1,000 of the whole table, found at the cost of the window; else
// (a rarer word, whose matches are few) the search spans the table. SQLite's
// FTS5 walks its matches newest first and needs no window.
func (s *Store) searchWindowStart(ctx context.Context, q domain.ListQuery) (int64, error) {
	if len(q.Terms) == 0 || s.db.Dialect != database.Postgres {
		return 0, nil
	}
	var top int64
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM articles`).Scan(&top); err != nil {
		return 0, fmt.Errorf("finding the newest article: %w", err)
	}
	if top <= int64(s.searchWindow) {
		return 0, nil
	}
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM articles WHERE id > $1
		AND search @@ $2::tsquery AND NOT draft LIMIT `+strconv.Itoa(s.maxMatches)+`) w`,
		top-int64(s.searchWindow), search.TSQuery(q.Terms)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("searching the newest articles: %w", err)
	}
	if n < s.maxMatches {
		return 0, nil
	}
	return top - int64(s.searchWindow), nil
}

// Ranking weights of title, description and body on SQLite (bm25, lower is
// better); PostgreSQL's ts_rank weighs A (title) 1, B 0.4, C 0.2.
const fts5Weights = `10.0, 4.0, 1.0`

// listSQL builds the FROM and WHERE clauses of a list query, the ranking to
// order by before recency ("" or "expr, "), and the arguments.
func (s *Store) listSQL(q domain.ListQuery, window int64) (from, where, order string, args []any) {
	var conds []string
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	from = `articles a`
	if len(q.Terms) > 0 {
		if s.db.Dialect == database.Postgres {
			tsq := arg(search.TSQuery(q.Terms)) + `::tsquery`
			from = `articles a JOIN (SELECT id FROM articles WHERE search @@ ` + tsq + ` AND NOT draft AND id > ` + arg(window) +
				` ORDER BY id DESC LIMIT ` + strconv.Itoa(s.maxMatches) + `) m ON m.id = a.id`
			order = `ts_rank(a.search, ` + tsq + `) DESC, `
		} else {
			from = `articles a JOIN (SELECT rowid, bm25(articles_search, ` + fts5Weights +
				`) AS rank FROM articles_search WHERE articles_search MATCH ` + arg(search.FTS5Match(q.Terms)) +
				` ORDER BY rowid DESC LIMIT ` + strconv.Itoa(s.maxMatches) + `) m ON m.rowid = a.id`
			order = `m.rank, `
		}
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
	if q.DraftsOf != 0 {
		conds = append(conds, `a.draft = `+arg(true)+` AND a.author_id = `+arg(q.DraftsOf))
	} else {
		conds = append(conds, `a.draft = `+arg(false)) // drafts are in no list, feed or search (ADR 0020)
	}
	if q.FollowedBy != 0 {
		conds = append(conds, `a.author_id IN (SELECT followee_id FROM author_follows WHERE follower_id = `+
			arg(q.FollowedBy)+` AND following = `+arg(true)+`)`)
	}
	where = " WHERE " + strings.Join(conds, " AND ")
	return from, where, order, args
}

// unindexArticle removes an article from the search index (a published
// article taken back to draft), in the caller's transaction.
func (s *Store) unindexArticle(ctx context.Context, q database.Querier, id int64) error {
	var err error
	if s.db.Dialect == database.Postgres {
		_, err = q.ExecContext(ctx, `UPDATE articles SET search = NULL WHERE id = $1`, id)
	} else {
		_, err = q.ExecContext(ctx, `DELETE FROM articles_search WHERE rowid = $1`, id)
	}
	if err != nil {
		return fmt.Errorf("unindexing article %d: %w", id, err)
	}
	return nil
}

// indexArticle writes the search index entry of an article (title,
// description, body), replacing any older one, in the caller's transaction.
func (s *Store) indexArticle(ctx context.Context, q database.Querier, id int64, title, description, body string) error {
	var err error
	if s.db.Dialect == database.Postgres {
		_, err = q.ExecContext(ctx, `UPDATE articles SET search = $1::tsvector WHERE id = $2`,
			search.TSVector(title, description, body), id)
	} else {
		_, err = q.ExecContext(ctx, `INSERT OR REPLACE INTO articles_search (rowid, title, description, body)
			VALUES ($1, $2, $3, $4)`, id, search.Normalize(title), search.Normalize(description), search.Normalize(body))
	}
	if err != nil {
		return fmt.Errorf("indexing article %d: %w", id, err)
	}
	return nil
}

// reindexBatch bounds one transaction of Reindex.
const reindexBatch = 200

// Reindex indexes the articles the search index lacks: those written before
// the index existed, or before a migration emptied it for a new analysis
// (ADR 0015). Each batch reads and writes in one transaction (rows locked on
// PostgreSQL), so a concurrent update, which indexes its article itself, is
// never overwritten with older text. It returns how many it indexed.
func (s *Store) Reindex(ctx context.Context) (int, error) {
	// Walk the ids upwards from the last batch: one pass over the table,
	// whatever its size (looking the index up per row on SQLite).
	// Rows not measured for reading time (older than migration 0005) are
	// indexed again too, which measures them.
	missing := `SELECT id, title, description, body FROM articles
		WHERE (search IS NULL AND NOT draft OR reading_minutes IS NULL) AND id > $1
		ORDER BY id LIMIT $2` + s.forUpdate()
	if s.db.Dialect != database.Postgres {
		missing = `SELECT id, title, description, body FROM articles a WHERE id > $1
			AND (a.reading_minutes IS NULL OR a.draft = 0 AND NOT EXISTS (SELECT 1 FROM articles_search WHERE rowid = a.id))
			ORDER BY id LIMIT $2`
	}
	total := 0
	var after int64
	for {
		n, last := 0, after // last: set by a batch that may yet fail to commit and run again
		err := s.db.Transact(ctx, func(tx *database.Tx) error {
			n = 0
			rows, err := tx.QueryContext(ctx, missing, after, reindexBatch)
			if err != nil {
				return fmt.Errorf("finding unindexed articles: %w", err)
			}
			type doc struct {
				id                       int64
				title, description, body string
			}
			var docs []doc
			for rows.Next() {
				var d doc
				if err := rows.Scan(&d.id, &d.title, &d.description, &d.body); err != nil {
					rows.Close()
					return fmt.Errorf("scanning unindexed articles: %w", err)
				}
				docs = append(docs, d)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return fmt.Errorf("finding unindexed articles: %w", err)
			}
			for _, d := range docs {
				if err := s.indexArticle(ctx, tx, d.id, d.title, d.description, d.body); err != nil {
					return err
				}
				// Writes store it with the body; this is for rows older than the column.
				if _, err := tx.ExecContext(ctx, `UPDATE articles SET reading_minutes = $1 WHERE id = $2`,
					readingtime.Minutes(d.body), d.id); err != nil {
					return fmt.Errorf("measuring article %d: %w", d.id, err)
				}
			}
			n = len(docs)
			if n > 0 {
				last = docs[n-1].id
			}
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("reindexing articles: %w", err)
		}
		total, after = total+n, last
		if n < reindexBatch {
			return total, nil
		}
	}
}
