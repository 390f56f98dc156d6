package app_test

import (
	"io/fs"
	"path"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/propagation"

	"github.com/tungsten-blog/tungsten/internal/auth"
	"github.com/tungsten-blog/tungsten/internal/blog"
	"github.com/tungsten-blog/tungsten/internal/platform/database"
	"github.com/tungsten-blog/tungsten/internal/platform/events"
	"github.com/tungsten-blog/tungsten/internal/platform/testenv"
	"github.com/tungsten-blog/tungsten/internal/users"
)

// countRows returns the rows of table, failing the test when it does not exist.
func countRows(t *testing.T, db *database.DB, table string) int {
	t.Helper()
	var n int
	require.NoError(t, db.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM "+table).Scan(&n), "table %s", table)
	return n
}

func version(t *testing.T, db *database.DB, table string) int64 {
	t.Helper()
	var v int64
	require.NoError(t, db.QueryRowContext(t.Context(), "SELECT MAX(version_id) FROM "+table).Scan(&v), "version table %s", table)
	return v
}

func hasTable(t *testing.T, db *database.DB, table string) bool {
	t.Helper()
	q := `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = $1`
	if db.Dialect == database.Postgres {
		q = `SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = $1`
	}
	var n int
	require.NoError(t, db.QueryRowContext(t.Context(), q, table).Scan(&n))
	return n == 1
}

// files counts the migrations of a set for one dialect.
func files(t *testing.T, s database.MigrationSet, d database.Dialect) int {
	t.Helper()
	names, err := fs.Glob(s.FS, string(d)+"/*.sql")
	require.NoError(t, err)
	return len(names)
}

// `tungsten migrate` (App.Migrate, which --migrate-on-start shares) gives a
// fresh users and blog database the outbox tables from the events package's
// own set, recorded in its own version table, and auth none; a second run
// applies nothing.
func TestMigrateAppliesTheEventsSchemaPerServiceDatabase(t *testing.T) {
	t.Parallel()
	for _, d := range testenv.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			cfg := database.Config{DataDir: t.TempDir()}
			var args []string
			if d == database.Postgres {
				cfg.PostgresURL = freshPostgres(t)
				args = append(args, "--postgres-url="+cfg.PostgresURL)
			}
			a, _ := newApp(t, cfg.DataDir, args...)
			counts, err := a.Migrate(t.Context())
			require.NoError(t, err)
			ev := files(t, events.Migrations, d)
			require.Equal(t, 1, ev, "the events set has one migration")
			require.Equal(t, map[string]int{
				"auth":  files(t, auth.Migrations[0], d),
				"users": ev + files(t, users.Migrations[1], d),
				"blog":  ev + files(t, blog.Migrations[1], d),
			}, counts)

			for _, svc := range []string{"auth", "users", "blog"} {
				c := cfg
				c.Service = svc
				db, err := database.Open(t.Context(), c, nil, nil)
				require.NoError(t, err)
				t.Cleanup(func() { _ = db.Close() })
				evented := svc != "auth"
				require.Equal(t, evented, hasTable(t, db, "outbox"), "%s: outbox", svc)
				require.Equal(t, evented, hasTable(t, db, "processed_events"), "%s: processed_events", svc)
				require.Equal(t, evented, hasTable(t, db, events.VersionTable), "%s: events version table", svc)
				if evented {
					require.EqualValues(t, 1, version(t, db, events.VersionTable), svc)
				}
			}

			counts, err = a.Migrate(t.Context())
			require.NoError(t, err)
			require.Equal(t, map[string]int{"auth": 0, "users": 0, "blog": 0}, counts, "migrating again is a no-op")
		})
	}
}

// oldOutboxDDL is the outbox and processed_events DDL as every service's 0001
// migration had it before ADR 0019: the events set's statements without IF
// NOT EXISTS (the column types are the same; only the blog's SQLite
// created_at said BIGINT, which has the same affinity as INTEGER).
func oldOutboxDDL(t *testing.T, d database.Dialect) string {
	t.Helper()
	names, err := fs.Glob(events.Migrations.FS, string(d)+"/0001_*.sql")
	require.NoError(t, err)
	require.Len(t, names, 1)
	b, err := fs.ReadFile(events.Migrations.FS, names[0])
	require.NoError(t, err)
	up, _, ok := strings.Cut(string(b), "-- +goose Down")
	require.True(t, ok)
	up = strings.TrimPrefix(up, "-- +goose Up\n")
	require.Contains(t, up, "CREATE TABLE IF NOT EXISTS outbox")
	return strings.ReplaceAll(up, "IF NOT EXISTS ", "")
}

// beforeADR0019 is a service's own migrations as they were before the
// events package owned the outbox: the same files, with the outbox tables
// created in 0001.
func beforeADR0019(t *testing.T, own fs.FS) fs.FS {
	t.Helper()
	old := fstest.MapFS{}
	require.NoError(t, fs.WalkDir(own, ".", func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := fs.ReadFile(own, p)
		if err != nil {
			return err
		}
		s := string(b)
		if strings.HasPrefix(path.Base(p), "0001_") {
			up, down, ok := strings.Cut(s, "-- +goose Down")
			require.True(t, ok, p)
			require.NotContains(t, up, "CREATE TABLE outbox", p)
			s = up + oldOutboxDDL(t, database.Dialect(path.Dir(p))) + "\n-- +goose Down" + down
		}
		old[p] = &fstest.MapFile{Data: []byte(s)}
		return nil
	}))
	return old
}

// A database migrated before ADR 0019 (its service's 0001 created the
// outbox tables, tracked only in goose_db_version) upgrades in place: the
// events set records itself without touching the tables, the events
// waiting in the outbox and the consumers' processed rows are kept, and
// the outbox goes on numbering after them.
func TestDatabaseWithTheOutboxFromItsOwnMigrationUpgrades(t *testing.T) {
	t.Parallel()
	services := map[string][]database.MigrationSet{"users": users.Migrations, "blog": blog.Migrations}
	for svc, sets := range services {
		require.Len(t, sets, 2, svc)
		require.Equal(t, events.Migrations.Table, sets[0].Table, "%s: the events set comes first", svc)
		own := sets[1]
		for _, d := range testenv.Dialects {
			t.Run(svc+"/"+string(d), func(t *testing.T) {
				t.Parallel()
				ctx := t.Context()
				db := testenv.OpenDB(t, d, svc, []database.MigrationSet{{FS: beforeADR0019(t, own.FS)}})
				require.False(t, hasTable(t, db, events.VersionTable))
				last := version(t, db, "goose_db_version")
				require.NoError(t, db.Transact(ctx, func(tx *database.Tx) error {
					return events.Enqueue(ctx, tx, propagation.TraceContext{}, "thing.happened", map[string]string{"before": "upgrade"})
				}))
				_, err := db.ExecContext(ctx, `INSERT INTO processed_events (consumer, event_id, processed_at) VALUES ('c', 'e1', 1)`)
				require.NoError(t, err)
				var oldSeq int64
				var oldID string
				require.NoError(t, db.QueryRowContext(ctx, `SELECT seq, event_id FROM outbox`).Scan(&oldSeq, &oldID))

				n, err := db.Migrate(ctx, sets...)
				require.NoError(t, err)
				require.Equal(t, 1, n, "only the events set's 0001 is new to this database")
				require.EqualValues(t, 1, version(t, db, events.VersionTable))
				require.Equal(t, last, version(t, db, "goose_db_version"), "the service's own version is unchanged")

				require.Equal(t, 1, countRows(t, db, "outbox"))
				require.Equal(t, 1, countRows(t, db, "processed_events"))
				var id string
				require.NoError(t, db.QueryRowContext(ctx, `SELECT event_id FROM outbox WHERE seq = $1`, oldSeq).Scan(&id))
				require.Equal(t, oldID, id)
				require.NoError(t, db.Transact(ctx, func(tx *database.Tx) error {
					return events.Enqueue(ctx, tx, propagation.TraceContext{}, "thing.happened", map[string]string{"after": "upgrade"})
				}))
				var maxSeq int64
				require.NoError(t, db.QueryRowContext(ctx, `SELECT MAX(seq) FROM outbox`).Scan(&maxSeq))
				require.Greater(t, maxSeq, oldSeq)

				n, err = db.Migrate(ctx, sets...)
				require.NoError(t, err)
				require.Zero(t, n)
			})
		}
	}
}
