// Package database is the small wrapper every store uses: one *sql.DB per
// service over PostgreSQL (pgx) or SQLite (pure Go), traced queries, a
// Transact helper, and numbered migrations per dialect.
//
// Queries are written once with $N placeholders, which both engines accept;
// the few statements that differ (full-text search) branch on Dialect.
package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Dialect names the SQL engine behind a DB.
type Dialect string

// The supported engines.
const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// Config selects and tunes the engine for one service.
type Config struct {
	Service     string // owner; names the schema (PostgreSQL) or file (SQLite)
	PostgresURL string // when set, PostgreSQL with schema Schema (default Service)
	Schema      string
	DataDir     string // SQLite: <DataDir>/<Service>.db
	MaxConns    int
}

// DB is a service's database handle.
type DB struct {
	sql     *sql.DB
	Dialect Dialect
	tracer  trace.Tracer
	dbName  string
}

// Open connects according to cfg. It does not migrate.
func Open(ctx context.Context, cfg Config, tp trace.TracerProvider, reg prometheus.Registerer) (*DB, error) {
	if tp == nil {
		tp = noop.NewTracerProvider()
	}
	db := &DB{tracer: tp.Tracer("github.com/tungsten-blog/tungsten/internal/platform/database")}
	maxConns := cfg.MaxConns
	if maxConns <= 0 {
		maxConns = 16
	}
	if cfg.PostgresURL != "" {
		pcfg, err := pgx.ParseConfig(cfg.PostgresURL)
		if err != nil {
			return nil, fmt.Errorf("parsing PostgreSQL URL: %w", redactErr(err))
		}
		schema := cfg.Schema
		if schema == "" {
			schema = cfg.Service
		}
		if !validIdent(schema) {
			return nil, fmt.Errorf("schema %q: want lower-case letters, digits and underscores", schema)
		}
		pcfg.RuntimeParams["search_path"] = schema
		pcfg.RuntimeParams["application_name"] = "tungsten-" + cfg.Service
		db.sql = stdlib.OpenDB(*pcfg)
		db.Dialect = Postgres
		db.dbName = schema
		db.sql.SetMaxOpenConns(maxConns)
		db.sql.SetMaxIdleConns(maxConns)
		db.sql.SetConnMaxIdleTime(5 * time.Minute)
	} else {
		if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
			return nil, fmt.Errorf("creating data directory: %w", err)
		}
		path := filepath.Join(cfg.DataDir, cfg.Service+".db")
		// WAL lets readers run beside the writer; IMMEDIATE transactions take
		// the write lock up front so two writers never deadlock on upgrade.
		dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)" +
			"&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
		s, err := sql.Open("sqlite", dsn)
		if err != nil {
			return nil, fmt.Errorf("opening SQLite %s: %w", path, err)
		}
		db.sql = s
		db.Dialect = SQLite
		db.dbName = cfg.Service
		db.sql.SetMaxOpenConns(maxConns)
		db.sql.SetMaxIdleConns(maxConns)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.sql.PingContext(pctx); err != nil {
		_ = db.sql.Close()
		return nil, fmt.Errorf("connecting to %s database of %s: %w", db.Dialect, cfg.Service, redactErr(err))
	}
	if reg != nil {
		if err := reg.Register(collectors.NewDBStatsCollector(db.sql, db.dbName)); err != nil {
			return nil, fmt.Errorf("registering pool metrics: %w", err)
		}
	}
	return db, nil
}

// Close closes the pool.
func (db *DB) Close() error { return db.sql.Close() }

// Ping checks the connection (readiness).
func (db *DB) Ping(ctx context.Context) error { return db.sql.PingContext(ctx) }

// SQL exposes the pool for migrations and tests.
func (db *DB) SQL() *sql.DB { return db.sql }

// Querier is what stores run statements on: the DB itself or a Tx.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// ExecContext runs a statement in a span.
func (db *DB) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	ctx, span := db.start(ctx, q)
	res, err := db.sql.ExecContext(ctx, q, args...)
	endSpan(span, err)
	return res, err
}

// QueryContext runs a query in a span. The span ends when the query returns;
// scanning the rows is not included.
func (db *DB) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	ctx, span := db.start(ctx, q)
	rows, err := db.sql.QueryContext(ctx, q, args...)
	endSpan(span, err)
	return rows, err
}

// QueryRowContext runs a single-row query in a span.
func (db *DB) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	ctx, span := db.start(ctx, q)
	row := db.sql.QueryRowContext(ctx, q, args...)
	endSpan(span, row.Err())
	return row
}

func (db *DB) start(ctx context.Context, q string) (context.Context, trace.Span) {
	op, _, _ := strings.Cut(strings.TrimSpace(q), " ")
	op = strings.ToUpper(op)
	system := semconv.DBSystemNamePostgreSQL
	if db.Dialect == SQLite {
		system = semconv.DBSystemNameSQLite
	}
	return db.tracer.Start(ctx, op+" "+db.dbName, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(system, semconv.DBNamespace(db.dbName), semconv.DBOperationName(op),
			attribute.String("db.query.text", q)))
}

func endSpan(span trace.Span, err error) {
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		span.RecordError(err)
		span.SetStatus(codes.Error, "query failed")
	}
	span.End()
}

// Tx is a transaction with the same traced methods as DB.
type Tx struct {
	tx *sql.Tx
	db *DB
}

// ExecContext runs a statement in the transaction.
func (t *Tx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	ctx, span := t.db.start(ctx, q)
	res, err := t.tx.ExecContext(ctx, q, args...)
	endSpan(span, err)
	return res, err
}

// QueryContext runs a query in the transaction.
func (t *Tx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	ctx, span := t.db.start(ctx, q)
	rows, err := t.tx.QueryContext(ctx, q, args...)
	endSpan(span, err)
	return rows, err
}

// QueryRowContext runs a single-row query in the transaction.
func (t *Tx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	ctx, span := t.db.start(ctx, q)
	row := t.tx.QueryRowContext(ctx, q, args...)
	endSpan(span, row.Err())
	return row
}

// Dialect returns the engine of the transaction's database.
func (t *Tx) Dialect() Dialect { return t.db.Dialect }

const maxAttempts = 3

// Transact runs fn in a transaction. It rolls back when fn returns an error
// or panics, reports commit errors, and retries the whole function a bounded
// number of times on serialization failures and lock timeouts, so fn must be
// safe to run again.
func (db *DB) Transact(ctx context.Context, fn func(tx *Tx) error) error {
	var err error
	for attempt := 1; attempt <= maxAttempts; attempt++ {
		err = db.transactOnce(ctx, fn)
		if err == nil || !retryable(err) || ctx.Err() != nil {
			return err
		}
		time.Sleep(time.Duration(attempt*attempt) * 5 * time.Millisecond)
	}
	return fmt.Errorf("transaction failed after %d attempts: %w", maxAttempts, err)
}

func (db *DB) transactOnce(ctx context.Context, fn func(tx *Tx) error) (err error) {
	stx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("beginning transaction: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = stx.Rollback()
			panic(p)
		}
		if err != nil {
			_ = stx.Rollback()
		}
	}()
	if err = fn(&Tx{tx: stx, db: db}); err != nil {
		return err
	}
	if err = stx.Commit(); err != nil {
		return fmt.Errorf("committing transaction: %w", err)
	}
	return nil
}

func retryable(err error) bool {
	if pe, ok := errors.AsType[*pgconn.PgError](err); ok {
		return pe.Code == "40001" || pe.Code == "40P01"
	}
	if se, ok := errors.AsType[*sqlite.Error](err); ok {
		c := se.Code() & 0xff
		return c == sqlite3.SQLITE_BUSY || c == sqlite3.SQLITE_LOCKED
	}
	return false
}

// IsUniqueViolation reports whether err is a unique-constraint violation.
func IsUniqueViolation(err error) bool {
	if pe, ok := errors.AsType[*pgconn.PgError](err); ok {
		return pe.Code == "23505"
	}
	if se, ok := errors.AsType[*sqlite.Error](err); ok {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

func validIdent(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for i, c := range s {
		if !(c >= 'a' && c <= 'z' || c == '_' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// redactErr keeps a password in a DSN out of error messages.
func redactErr(err error) error {
	msg := err.Error()
	if i := strings.Index(msg, "://"); i >= 0 {
		if j := strings.Index(msg[i:], "@"); j > 0 {
			return errors.New(msg[:i+3] + "REDACTED" + msg[i+j:])
		}
	}
	return err
}
