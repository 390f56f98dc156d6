package database_test

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tungsten-blog/tungsten/internal/platform/database"
	"github.com/tungsten-blog/tungsten/internal/platform/testenv"
)

var migrations = []database.MigrationSet{{FS: os.DirFS("testdata/migrations")}}

func count(t *testing.T, db *database.DB) int {
	t.Helper()
	var n int
	require.NoError(t, db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM items`).Scan(&n))
	return n
}

func TestTransactContract(t *testing.T) {
	t.Parallel()
	for _, d := range testenv.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := testenv.OpenDB(t, d, "dbtest", migrations)
			require.Equal(t, d, db.Dialect)

			// Commit.
			require.NoError(t, db.Transact(ctx, func(tx *database.Tx) error {
				_, err := tx.ExecContext(ctx, `INSERT INTO items (id, name) VALUES ($1, $2)`, 1, "a")
				return err
			}))
			require.Equal(t, 1, count(t, db))

			// Error rolls back.
			boom := errors.New("boom")
			err := db.Transact(ctx, func(tx *database.Tx) error {
				if _, err := tx.ExecContext(ctx, `INSERT INTO items (id, name) VALUES ($1, $2)`, 2, "b"); err != nil {
					return err
				}
				return boom
			})
			require.ErrorIs(t, err, boom)
			require.Equal(t, 1, count(t, db))

			// Panic rolls back and propagates.
			require.Panics(t, func() {
				_ = db.Transact(ctx, func(tx *database.Tx) error {
					_, _ = tx.ExecContext(ctx, `INSERT INTO items (id, name) VALUES ($1, $2)`, 3, "c")
					panic("bug")
				})
			})
			require.Equal(t, 1, count(t, db))

			// Unique violations are recognised on both engines.
			_, err = db.ExecContext(ctx, `INSERT INTO items (id, name) VALUES ($1, $2)`, 4, "a")
			require.True(t, database.IsUniqueViolation(err), "got %v", err)

			// $N placeholders may repeat and come out of order on both engines.
			var name string
			require.NoError(t, db.QueryRowContext(ctx, `SELECT name FROM items WHERE id = $2 AND name = $1 AND id = $2`, "a", 1).Scan(&name))
			require.Equal(t, "a", name)

			// Migrating again is a no-op.
			n, err := db.Migrate(ctx, migrations...)
			require.NoError(t, err)
			require.Zero(t, n)

			// A cancelled context is honoured.
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			require.Error(t, db.Transact(cctx, func(*database.Tx) error { return nil }))
		})
	}
}
