package database_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tungsten-blog/tungsten/internal/platform/database"
	"github.com/tungsten-blog/tungsten/internal/platform/testenv"
)

// BenchmarkConcurrentWrites runs small write transactions (a read, an insert)
// from 32 goroutines at once, the shape of POST /api/articles at 32
// connections. On SQLite they queue for the one writer connection; before
// it, the losers slept in SQLite's busy handler.
func BenchmarkConcurrentWrites(b *testing.B) {
	for _, d := range testenv.Dialects {
		b.Run(string(d), func(b *testing.B) {
			ctx := context.Background()
			db := testenv.OpenDB(b, d, "dbbench", migrations)
			var next atomic.Int64
			b.SetParallelism(32)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					id := next.Add(1)
					err := db.Transact(ctx, func(tx *database.Tx) error {
						var n int
						if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM items WHERE id = $1`, id).Scan(&n); err != nil {
							return err
						}
						_, err := tx.ExecContext(ctx, `INSERT INTO items (id, name) VALUES ($1, $2)`, id, strconv.FormatInt(id, 10))
						return err
					})
					if !assert.NoError(b, err) { // not require: this is one of RunParallel's goroutines
						return
					}
				}
			})
		})
	}
}

// BenchmarkReadWhileWriting reads one row while another goroutine writes
// continuously: reads run on their own connections and do not wait for the
// writer, and their statements are prepared once.
func BenchmarkReadWhileWriting(b *testing.B) {
	for _, d := range testenv.Dialects {
		b.Run(string(d), func(b *testing.B) {
			ctx, cancel := context.WithCancel(context.Background())
			db := testenv.OpenDB(b, d, "dbbench", migrations)
			_, err := db.ExecContext(ctx, `INSERT INTO items (id, name) VALUES (0, 'zero')`)
			require.NoError(b, err)
			done := make(chan struct{})
			go func() {
				defer close(done)
				for id := int64(1); ctx.Err() == nil; id++ {
					_ = db.Transact(ctx, func(tx *database.Tx) error {
						_, err := tx.ExecContext(ctx, `INSERT INTO items (id, name) VALUES ($1, $2)`, id, strconv.FormatInt(id, 10))
						return err
					})
				}
			}()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				var name string
				for pb.Next() {
					if !assert.NoError(b, db.QueryRowContext(ctx, `SELECT name FROM items WHERE id = $1`, 0).Scan(&name)) {
						return
					}
				}
			})
			b.StopTimer()
			cancel()
			<-done
		})
	}
}
