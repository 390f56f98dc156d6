package database

import (
	"context"
	"embed"
	"fmt"
	"hash/fnv"
	"io/fs"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// MigrationSet is one versioned set of migrations: FS holds
// <dialect>/NNNN_what.sql files (goose format, numbered from 0001 without
// gaps), and goose records which of them ran in the set's own version table.
// Several sets share a database when each has its own table: a service's
// schema, and the outbox schema that internal/platform/events owns.
type MigrationSet struct {
	FS    fs.FS
	Table string // goose's version table; "" is goose's default, goose_db_version
}

func (s MigrationSet) table() string {
	if s.Table == "" {
		return goose.DefaultTablename
	}
	return s.Table
}

// Migrate applies the sets in order and returns how many migrations ran.
// On PostgreSQL it first creates the service's schema, and a session
// advisory lock per schema makes concurrent migrators (replicas starting
// together) safe.
func (db *DB) Migrate(ctx context.Context, sets ...MigrationSet) (applied int, err error) {
	if db.Dialect == Postgres {
		if _, err := db.sql.ExecContext(ctx, "CREATE SCHEMA IF NOT EXISTS "+db.dbName); err != nil {
			return 0, fmt.Errorf("creating schema %s: %w", db.dbName, err)
		}
	}
	for _, s := range sets {
		n, err := db.migrateSet(ctx, s)
		applied += n
		if err != nil {
			return applied, err
		}
	}
	return applied, nil
}

func (db *DB) migrateSet(ctx context.Context, s MigrationSet) (int, error) {
	sub, err := fs.Sub(s.FS, string(db.Dialect))
	if err != nil {
		return 0, fmt.Errorf("migrations %s for %s: %w", s.table(), db.Dialect, err)
	}
	opts := []goose.ProviderOption{goose.WithTableName(s.table())}
	dialect := goose.DialectSQLite3
	if db.Dialect == Postgres {
		dialect = goose.DialectPostgres
		// One advisory lock per schema, whatever the set: replicas of a
		// service serialise, different services (and parallel tests) do
		// not wait for each other.
		h := fnv.New64a()
		_, _ = h.Write([]byte("tungsten-migrate:" + db.dbName))
		locker, err := lock.NewPostgresSessionLocker(
			lock.WithLockID(int64(h.Sum64()>>1)),
			lock.WithLockTimeout(1, 300),
		)
		if err != nil {
			return 0, fmt.Errorf("creating migration lock: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(dialect, db.sql, sub, opts...)
	if err != nil {
		return 0, fmt.Errorf("loading migrations %s of %s: %w", s.table(), db.dbName, err)
	}
	res, err := p.Up(ctx)
	if err != nil {
		return len(res), fmt.Errorf("migrating %s (%s): %w", db.dbName, s.table(), err)
	}
	return len(res), nil
}

// EmbeddedMigrations returns the "migrations" directory of an embedded tree
// (migrations/postgres/..., migrations/sqlite/...), as services embed it.
func EmbeddedMigrations(f embed.FS) fs.FS {
	sub, err := fs.Sub(f, "migrations")
	if err != nil {
		panic(err) // the directory name is a constant: only a build mistake gets here
	}
	return sub
}
