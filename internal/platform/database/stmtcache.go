package database

import (
	"context"
	"database/sql"
	"sync"
)

// maxCachedStmts bounds a stmtCache. Queries with IN lists take one text
// per list length, so the set of texts is finite but not tiny; past the
// bound a statement simply runs unprepared.
const maxCachedStmts = 256

// stmtCache keeps one prepared statement per query text on a SQLite pool.
// modernc's driver compiles every statement it is given afresh, and in the
// write path parsing cost about as much as running (profile of POST
// /api/articles: 16% of CPU in sqlite3Prepare). database/sql prepares a
// cached *sql.Stmt once per connection and reuses it, inside transactions
// too (Tx.StmtContext). PostgreSQL needs none of this: pgx caches statements
// per connection itself. A nil *stmtCache caches nothing.
//
// The writer has a single connection, which a running transaction holds:
// preparing on the pool then would wait for that very connection. So a
// statement first seen inside a transaction runs unprepared and is only
// noted (want); the writer prepares the noted ones after the transaction,
// still holding its turn, when the connection is free (preparePending).
type stmtCache struct {
	pool *sql.DB

	mu      sync.RWMutex
	stmts   map[string]*sql.Stmt
	pending map[string]struct{}
}

func newStmtCache(pool *sql.DB) *stmtCache {
	return &stmtCache{pool: pool, stmts: map[string]*sql.Stmt{}, pending: map[string]struct{}{}}
}

// lookup returns the cached statement for q, or nil.
func (c *stmtCache) lookup(q string) *sql.Stmt {
	if c == nil {
		return nil
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.stmts[q]
}

// get returns the prepared statement for q, preparing it on first use, or
// nil when q cannot be cached (cache full, or preparing failed: the caller
// then runs q unprepared and reports the driver's error as usual). It needs
// a free connection of the pool.
func (c *stmtCache) get(ctx context.Context, q string) *sql.Stmt {
	if c == nil {
		return nil
	}
	if st := c.lookup(q); st != nil {
		return st
	}
	c.mu.RLock()
	full := c.stmts == nil || len(c.stmts) >= maxCachedStmts
	c.mu.RUnlock()
	if full {
		return nil
	}
	st, err := c.pool.PrepareContext(ctx, q)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur, ok := c.stmts[q]; ok { // prepared concurrently: keep one
		_ = st.Close()
		return cur
	}
	if c.stmts == nil || len(c.stmts) >= maxCachedStmts { // closed, or filled meanwhile
		_ = st.Close()
		return nil
	}
	c.stmts[q] = st
	return st
}

// want notes q for preparePending.
func (c *stmtCache) want(q string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stmts != nil && len(c.stmts)+len(c.pending) < maxCachedStmts {
		c.pending[q] = struct{}{}
	}
}

// preparePending prepares the statements noted by want.
func (c *stmtCache) preparePending(ctx context.Context) {
	if c == nil {
		return
	}
	c.mu.Lock()
	qs := make([]string, 0, len(c.pending))
	for q := range c.pending {
		qs = append(qs, q)
	}
	clear(c.pending)
	c.mu.Unlock()
	for _, q := range qs {
		c.get(ctx, q)
	}
}

// close closes every cached statement; nothing is cached afterwards.
func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.stmts {
		_ = st.Close()
	}
	c.stmts = nil
	clear(c.pending)
}
