// Package testenv gives integration tests real dependencies: a SQLite file
// or a fresh PostgreSQL schema per test, a Redis key prefix, a NATS
// namespace. When a dependency is absent the test is skipped with a clear
// message, unless CI is set: then it fails, so nothing is silently skipped
// in CI. scripts/deps.sh provides the servers and exports their URLs.
// NATS needs no server: without TUNGSTEN_TEST_NATS_URL the tests share one
// embedded NATS server with JetStream per test process (docs/testing.md).
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tungsten-blog/tungsten/internal/platform/database"
)

// Environment variables naming the test servers.
const (
	EnvPostgres = "TUNGSTEN_TEST_POSTGRES_URL"
	EnvRedis    = "TUNGSTEN_TEST_REDIS_URL"
	EnvNATS     = "TUNGSTEN_TEST_NATS_URL"
)

// Defaults match the servers of a developer machine. NATS has none: an
// embedded server stands in.
var defaults = map[string]string{
	EnvPostgres: "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable",
	EnvRedis:    "redis://127.0.0.1:6379/0",
}

// URL returns the server URL for env, checking that something listens
// there. It skips the test (fails in CI) when nothing does. For EnvNATS
// unset, it is the URL of this process's embedded server (see Main).
func URL(t testing.TB, env string) string {
	t.Helper()
	u := os.Getenv(env)
	if u == "" && env == EnvNATS {
		return embeddedNATS(t)
	}
	if u == "" {
		u = defaults[env]
	}
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatalf("%s=%q is not a URL: %v", env, u, err)
	}
	conn, err := net.DialTimeout("tcp", pu.Host, 2*time.Second)
	if err != nil {
		msg := env + ": nothing listens at " + pu.Host + " (run scripts/deps.sh, or set " + env + ")"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	_ = conn.Close()
	return u
}

// Name returns a short unique lower-case name with prefix, for schemas,
// key prefixes and stream namespaces.
func Name(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// Dialects lists the engines a contract suite runs against.
var Dialects = []database.Dialect{database.SQLite, database.Postgres}

// OpenDB opens a database for service on dialect, empty but for the
// migration sets (a service's Migrations): a SQLite file in a temp dir, or a
// fresh PostgreSQL schema dropped when the test ends. Each opt may adjust
// the configuration (e.g. set Faults) before opening.
func OpenDB(t testing.TB, dialect database.Dialect, service string, migrations []database.MigrationSet, opts ...func(*database.Config)) *database.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg := database.Config{Service: service, DataDir: t.TempDir(), MaxConns: 8}
	if dialect == database.Postgres {
		cfg.PostgresURL = URL(t, EnvPostgres)
		cfg.Schema = Name("t_" + strings.ReplaceAll(service, "-", "_") + "_")
	}
	for _, o := range opts {
		o(&cfg)
	}
	db, err := database.Open(ctx, cfg, nil, nil)
	if err != nil {
		t.Fatalf("opening %s database: %v", dialect, err)
	}
	t.Cleanup(func() {
		if dialect == database.Postgres {
			_, _ = db.SQL().ExecContext(context.Background(), "DROP SCHEMA IF EXISTS "+cfg.Schema+" CASCADE")
		}
		_ = db.Close()
	})
	if _, err := db.Migrate(ctx, migrations...); err != nil {
		t.Fatalf("migrating %s database: %v", dialect, err)
	}
	return db
}
