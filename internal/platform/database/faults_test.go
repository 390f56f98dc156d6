package database_test

import (
	"context"
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/tungsten-blog/tungsten/internal/platform/database"
	"github.com/tungsten-blog/tungsten/internal/platform/faults"
	"github.com/tungsten-blog/tungsten/internal/platform/testenv"
)

// An injected "postgres" fault fails every kind of statement on both
// engines, as an unavailable database (IsUnavailable), and clearing it
// brings the database back.
func TestInjectedDependencyFault(t *testing.T) {
	t.Parallel()
	for _, d := range testenv.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			sw := faults.New(faults.Deps{})
			db := testenv.OpenDB(t, d, "faulttest", migrations, func(c *database.Config) { c.Faults = sw })
			set, err := faults.Parse([]byte(`{"dependency":{"target":"postgres"}}`), 0)
			require.NoError(t, err)
			sw.Apply(set, "test")

			check := func(what string, err error) {
				t.Helper()
				require.Error(t, err, what)
				var fe *faults.Error
				require.True(t, errors.As(err, &fe), "%s: %v", what, err)
				require.True(t, database.IsUnavailable(err), "%s: %v", what, err)
			}
			_, err = db.ExecContext(ctx, `INSERT INTO items (id, name) VALUES ($1, $2)`, 1, "a")
			check("exec", err)
			_, err = db.QueryContext(ctx, `SELECT id FROM items`)
			check("query", err)
			var n int
			check("query row", db.QueryRowContext(ctx, `SELECT COUNT(*) FROM items`).Scan(&n))
			check("transaction", db.Transact(ctx, func(*database.Tx) error { return nil }))

			sw.Clear("test")
			require.NoError(t, db.Transact(ctx, func(tx *database.Tx) error {
				_, err := tx.ExecContext(ctx, `INSERT INTO items (id, name) VALUES ($1, $2)`, 1, "a")
				return err
			}))
			// A fault set while a transaction runs fails its statements.
			err = db.Transact(ctx, func(tx *database.Tx) error {
				sw.Apply(set, "test")
				_, err := tx.ExecContext(ctx, `INSERT INTO items (id, name) VALUES ($1, $2)`, 2, "b")
				return err
			})
			check("statement in a transaction", err)
			sw.Clear("test")
			require.Equal(t, 1, count(t, db))
		})
	}
}

// Statements the database cannot serve are counted per database, beside the
// duration of every statement: the client-side signal the doctor compares
// across a datastore's clients.
func TestUnavailableStatementsAreCounted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sw := faults.New(faults.Deps{})
	reg := prometheus.NewRegistry()
	db, err := database.Open(ctx, database.Config{Service: "metricstest", DataDir: t.TempDir(), Faults: sw}, nil, reg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	var n int
	require.NoError(t, db.QueryRowContext(ctx, `SELECT 1`).Scan(&n))
	set, err := faults.Parse([]byte(`{"dependency":{"target":"postgres"}}`), 0)
	require.NoError(t, err)
	sw.Apply(set, "test")
	require.Error(t, db.QueryRowContext(ctx, `SELECT 1`).Scan(&n))
	_, err = db.ExecContext(ctx, `SELECT 1`)
	require.Error(t, err)
	sw.Clear("test")

	require.Equal(t, 2.0, counterValue(t, reg, "tungsten_db_unavailable_total"))
	count, err := testutil.GatherAndCount(reg, "tungsten_db_statement_duration_seconds")
	require.NoError(t, err)
	require.Equal(t, 1, count)
}

// counterValue reads the one series of the counter name in reg.
func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			require.Len(t, mf.GetMetric(), 1)
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	require.Failf(t, "counter missing", "no %s in the registry", name)
	return 0
}
