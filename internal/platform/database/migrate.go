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

// Migrate applies the numbered migrations in fsys/<dialect>/ (files named
// NNNN_what.sql in goose format). On PostgreSQL it first creates the
// service's schema, and a session advisory lock per schema makes concurrent
// migrators (replicas starting together) safe.
func (db *DB) Migrate(ctx context.Context, fsys fs.FS) (applied int, err error) {
	sub, err := fs.Sub(fsys, string(db.Dialect))
	if err != nil {
		return 0, fmt.Errorf("migrations for %s: %w", db.Dialect, err)
	}
	var opts []goose.ProviderOption
	dialect := goose.DialectSQLite3
	if db.Dialect == Postgres {
		dialect = goose.DialectPostgres
		if _, err := db.sql.ExecContext(ctx, "CREATE SCHEMA IF NOT EXISTS "+db.dbName); err != nil {
			return 0, fmt.Errorf("creating schema %s: %w", db.dbName, err)
		}
		// One advisory lock per schema: replicas of a service serialise,
		// different services (and parallel tests) do not wait for each other.
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
		return 0, fmt.Errorf("loading migrations of %s: %w", db.dbName, err)
	}
	res, err := p.Up(ctx)
	if err != nil {
		return len(res), fmt.Errorf("migrating %s: %w", db.dbName, err)
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
