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
	"database/sql/driver"
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

	"github.com/tungsten-blog/tungsten/internal/platform/faults"
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
	// Faults, when set, fails the statements and transactions it is told to
	// (dependency target "postgres", whatever the engine): ADR 0016.
	Faults *faults.Switch
}

// DB is a service's database handle.
//
// On SQLite it holds two pools over one file (ADR 0007): sql, a single
// writer connection that every transaction and every statement outside one
// that may write goes through, and read, a pool of query-only connections
// for reads outside a transaction. SQLite admits one writer at a time; with
// several writer connections the losers sleep in SQLite's busy handler
// (1 ms, 2 ms, 5 ms ... 100 ms steps) instead of queueing, which made write
// latency a lottery. Writers now wait their turn in writeTurn, first come
// first served, and WAL lets the readers run beside them. On PostgreSQL sql
// and read are the same pool and writeTurn is nil.
type DB struct {
	sql       *sql.DB
	read      *sql.DB
	writeTurn chan struct{} // SQLite: holds a token while a writer uses sql
	writeStmt *stmtCache    // SQLite: prepared statements of the writer
	readStmt  *stmtCache    // SQLite: prepared statements of the readers
	Dialect   Dialect
	tracer    trace.Tracer
	dbName    string
	faults    *faults.Switch
	// dead is a pool whose every connection attempt fails with the injected
	// error: a faulted statement runs on it, so that it fails where and as a
	// real outage makes it fail (a *sql.Row cannot be made any other way).
	dead    *sql.DB
	metrics *metrics // nil without a registerer
}

// Open connects according to cfg. It does not migrate.
func Open(ctx context.Context, cfg Config, tp trace.TracerProvider, reg prometheus.Registerer) (*DB, error) {
	if tp == nil {
		tp = noop.NewTracerProvider()
	}
	db := &DB{tracer: tp.Tracer("github.com/tungsten-blog/tungsten/internal/platform/database"), faults: cfg.Faults}
	if cfg.Faults != nil {
		db.dead = sql.OpenDB(deadConnector{})
		db.dead.SetMaxIdleConns(0)
	}
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
		db.read = db.sql
	} else {
		if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
			return nil, fmt.Errorf("creating data directory: %w", err)
		}
		if err := db.openSQLite(ctx, filepath.Join(cfg.DataDir, cfg.Service+".db"), maxConns); err != nil {
			return nil, err
		}
		db.dbName = cfg.Service
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.Ping(pctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("connecting to %s database of %s: %w", db.Dialect, cfg.Service, redactErr(err))
	}
	if reg != nil {
		// The pool reads queue on keeps the service's name; SQLite's single
		// writer is reported beside it, as <service>_writer.
		if err := reg.Register(collectors.NewDBStatsCollector(db.read, db.dbName)); err != nil {
			return nil, fmt.Errorf("registering pool metrics: %w", err)
		}
		if db.read != db.sql {
			if err := reg.Register(collectors.NewDBStatsCollector(db.sql, db.dbName+"_writer")); err != nil {
				return nil, fmt.Errorf("registering pool metrics: %w", err)
			}
		}
		m, err := newMetrics(reg, db.dbName)
		if err != nil {
			return nil, err
		}
		db.metrics = m
	}
	return db, nil
}

// openSQLite opens the writer connection and the pool of readers over the
// file at path (see DB).
func (db *DB) openSQLite(ctx context.Context, path string, maxReaders int) error {
	// busy_timeout still covers another process on the same file (tungsten
	// migrate beside a running server); in this process writers queue in
	// writeTurn. synchronous(NORMAL) in WAL mode loses no committed
	// transaction on a process crash, only possibly the last ones on power
	// loss. IMMEDIATE transactions take the write lock up front, so a
	// transaction never fails half-way on a lock upgrade.
	common := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"
	w, err := sql.Open("sqlite", common+"&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		return fmt.Errorf("opening SQLite %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	db.sql, db.Dialect, db.writeTurn = w, SQLite, make(chan struct{}, 1)
	// The writer switches the file to WAL before any reader opens it; the
	// mode is persistent, so readers need not (and, query-only, could not).
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := w.PingContext(pctx); err != nil {
		_ = w.Close()
		return fmt.Errorf("connecting to SQLite %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", common+"&_pragma=query_only(1)")
	if err != nil {
		_ = w.Close()
		return fmt.Errorf("opening SQLite %s: %w", path, err)
	}
	r.SetMaxOpenConns(maxReaders)
	// Every idle connection keeps its own page cache; a few idle ones are
	// enough to serve a burst without reopening the file.
	r.SetMaxIdleConns(min(maxReaders, 4))
	r.SetConnMaxIdleTime(time.Minute)
	db.read = r
	db.writeStmt, db.readStmt = newStmtCache(w), newStmtCache(r)
	return nil
}

// Close closes the pools.
func (db *DB) Close() error {
	if db.dead != nil {
		_ = db.dead.Close()
	}
	if db.read != db.sql {
		db.writeStmt.close()
		db.readStmt.close()
		return errors.Join(db.read.Close(), db.sql.Close())
	}
	return db.sql.Close()
}

// Ping checks the connections (readiness). It does not wait for the writer's
// turn: a busy writer is not a broken one.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.read.PingContext(ctx); err != nil {
		return err
	}
	if db.read != db.sql && len(db.writeTurn) == 0 {
		return db.sql.PingContext(ctx)
	}
	return nil
}

// acquireWrite waits for the writer's turn (SQLite), or until ctx ends.
// Goroutines blocked on a channel send are woken in order, so writers are
// served first come, first served. The returned function gives the turn back.
func (db *DB) acquireWrite(ctx context.Context) (func(), error) {
	if db.writeTurn == nil {
		return func() {}, nil
	}
	select {
	case db.writeTurn <- struct{}{}:
		return func() { <-db.writeTurn }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for the SQLite writer: %w", ctx.Err())
	}
}

// SQL exposes the pool for migrations and tests.
func (db *DB) SQL() *sql.DB { return db.sql }

// Querier is what stores run statements on: the DB itself or a Tx.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// ExecContext runs a statement in a span, on the writer: a statement that
// is run rather than queried is assumed to write.
func (db *DB) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	ctx, op := db.start(ctx, q)
	if err := db.faults.Fail(faults.Postgres); err != nil {
		res, err := db.dead.ExecContext(ctx, q, args...)
		op.end(err)
		return res, err
	}
	release, err := db.acquireWrite(ctx)
	if err != nil {
		op.end(err)
		return nil, err
	}
	var res sql.Result
	if st := db.writeStmt.get(ctx, q); st != nil {
		res, err = st.ExecContext(ctx, args...)
	} else {
		res, err = db.sql.ExecContext(ctx, q, args...)
	}
	release()
	op.end(err)
	return res, err
}

// QueryContext runs a read-only query in a span, on the readers (SQLite
// rejects a write there). The span ends when the query returns; scanning the
// rows is not included.
func (db *DB) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	ctx, op := db.start(ctx, q)
	if err := db.faults.Fail(faults.Postgres); err != nil {
		rows, err := db.dead.QueryContext(ctx, q, args...)
		op.end(err)
		return rows, err
	}
	var rows *sql.Rows
	var err error
	if st := db.readStmt.get(ctx, q); st != nil {
		rows, err = st.QueryContext(ctx, args...)
	} else {
		rows, err = db.read.QueryContext(ctx, q, args...)
	}
	op.end(err)
	return rows, err
}

// QueryRowContext runs a read-only single-row query in a span, on the
// readers (a write needs a transaction or ExecContext).
func (db *DB) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	ctx, op := db.start(ctx, q)
	var row *sql.Row
	if err := db.faults.Fail(faults.Postgres); err != nil {
		row = db.dead.QueryRowContext(ctx, q, args...)
	} else if st := db.readStmt.get(ctx, q); st != nil {
		row = st.QueryRowContext(ctx, args...)
	} else {
		row = db.read.QueryRowContext(ctx, q, args...)
	}
	op.end(row.Err())
	return row
}

func (db *DB) start(ctx context.Context, q string) (context.Context, statement) {
	op, _, _ := strings.Cut(strings.TrimSpace(q), " ")
	op = strings.ToUpper(op)
	system := semconv.DBSystemNamePostgreSQL
	if db.Dialect == SQLite {
		system = semconv.DBSystemNameSQLite
	}
	ctx, span := db.tracer.Start(ctx, op+" "+db.dbName, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(system, semconv.DBNamespace(db.dbName), semconv.DBOperationName(op),
			attribute.String("db.query.text", q)))
	return ctx, statement{span: span, start: time.Now(), metrics: db.metrics}
}

// statement is one traced, measured statement in flight.
type statement struct {
	span    trace.Span
	start   time.Time
	metrics *metrics
}

// end records the statement's outcome: its duration, an error on the span,
// and whether the database failed to serve it (unreachable, out of
// connections, or an injected fault), which the doctor reads per client.
func (s statement) end(err error) {
	failed := err != nil && !errors.Is(err, sql.ErrNoRows)
	if failed {
		s.span.RecordError(err)
		s.span.SetStatus(codes.Error, "query failed")
	}
	s.span.End()
	if s.metrics == nil {
		return
	}
	s.metrics.duration.Observe(time.Since(s.start).Seconds())
	if failed && IsUnavailable(err) { // an injected fault is one too
		s.metrics.unavailable.Inc()
	}
}

// metrics are the client-side signals of one database: statement duration
// and statements the database could not serve, labelled like the pool
// statistics (db_name).
type metrics struct {
	duration    prometheus.Histogram
	unavailable prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, dbName string) (*metrics, error) {
	l := prometheus.Labels{"db_name": dbName}
	m := &metrics{
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tungsten_db_statement_duration_seconds",
			Help: "Duration of SQL statements (a query's until it returns, before its rows are read).", ConstLabels: l,
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}}),
		unavailable: prometheus.NewCounter(prometheus.CounterOpts{Name: "tungsten_db_unavailable_total",
			Help: "SQL statements the database could not serve: unreachable, restarting, out of connections or disk, or an injected fault.", ConstLabels: l}),
	}
	for _, c := range []prometheus.Collector{m.duration, m.unavailable} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("registering database metrics: %w", err)
		}
	}
	return m, nil
}

// Tx is a transaction with the same traced methods as DB.
type Tx struct {
	tx *sql.Tx
	db *DB
}

// ExecContext runs a statement in the transaction.
func (t *Tx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	ctx, op := t.db.start(ctx, q)
	var res sql.Result
	var err error
	if ferr := t.db.faults.Fail(faults.Postgres); ferr != nil {
		res, err = t.db.dead.ExecContext(ctx, q, args...)
	} else if st := t.stmt(ctx, q); st != nil {
		res, err = st.ExecContext(ctx, args...)
	} else {
		res, err = t.tx.ExecContext(ctx, q, args...)
	}
	op.end(err)
	return res, err
}

// QueryContext runs a query in the transaction.
func (t *Tx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	ctx, op := t.db.start(ctx, q)
	var rows *sql.Rows
	var err error
	if ferr := t.db.faults.Fail(faults.Postgres); ferr != nil {
		rows, err = t.db.dead.QueryContext(ctx, q, args...)
	} else if st := t.stmt(ctx, q); st != nil {
		rows, err = st.QueryContext(ctx, args...)
	} else {
		rows, err = t.tx.QueryContext(ctx, q, args...)
	}
	op.end(err)
	return rows, err
}

// QueryRowContext runs a single-row query in the transaction.
func (t *Tx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	ctx, op := t.db.start(ctx, q)
	var row *sql.Row
	if err := t.db.faults.Fail(faults.Postgres); err != nil {
		row = t.db.dead.QueryRowContext(ctx, q, args...)
	} else if st := t.stmt(ctx, q); st != nil {
		row = st.QueryRowContext(ctx, args...)
	} else {
		row = t.tx.QueryRowContext(ctx, q, args...)
	}
	op.end(row.Err())
	return row
}

// stmt returns the writer's prepared statement for q bound to the
// transaction, or nil when q is not cached.
func (t *Tx) stmt(ctx context.Context, q string) *sql.Stmt {
	st := t.db.writeStmt.lookup(q)
	if st == nil {
		t.db.writeStmt.want(q) // prepared after the transaction (see stmtCache)
		return nil
	}
	return t.tx.StmtContext(ctx, st)
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
	if err := db.faults.Fail(faults.Postgres); err != nil {
		return fmt.Errorf("beginning transaction: %w", err)
	}
	release, err := db.acquireWrite(ctx)
	if err != nil {
		return err
	}
	defer func() {
		// The transaction is over, so its connection is free; the turn is
		// still ours.
		db.writeStmt.preparePending(ctx)
		release()
	}()
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

// deadConnector is the driver.Connector of DB.dead: connecting always fails
// with the fault the switch injects, so database/sql reports it as it would
// a database that refuses connections.
type deadConnector struct{}

func (deadConnector) Connect(context.Context) (driver.Conn, error) {
	return nil, &faults.Error{Target: faults.Postgres}
}

func (deadConnector) Driver() driver.Driver { return deadDriver{} }

type deadDriver struct{}

func (deadDriver) Open(string) (driver.Conn, error) {
	return nil, &faults.Error{Target: faults.Postgres}
}
