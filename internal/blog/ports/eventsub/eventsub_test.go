package eventsub_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tungsten-blog/tungsten/internal/blog"
	"github.com/tungsten-blog/tungsten/internal/blog/adapters/sqlstore"
	"github.com/tungsten-blog/tungsten/internal/blog/app"
	"github.com/tungsten-blog/tungsten/internal/blog/ports/eventsub"
	"github.com/tungsten-blog/tungsten/internal/platform/cache"
	"github.com/tungsten-blog/tungsten/internal/platform/database"
	"github.com/tungsten-blog/tungsten/internal/platform/events"
	"github.com/tungsten-blog/tungsten/internal/platform/testenv"
)

// TestHandler applies users events to a real read model (both engines).
func TestHandler(t *testing.T) {
	t.Parallel()
	for _, d := range testenv.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			db := testenv.OpenDB(t, d, "blog", blog.Migrations)
			store := sqlstore.New(db, nil, nil)
			mem := cache.NewMemory(100, nil)
			h := eventsub.Handler(store, mem, slog.New(slog.DiscardHandler))
			gen := func() string { g, _ := mem.Get(t.Context(), app.GenKey); return string(g) }
			apply := func(typ, data string) {
				t.Helper()
				err := db.Transact(t.Context(), func(tx *database.Tx) error {
					return h(t.Context(), tx, events.Event{ID: "x", Type: typ, OccurredAt: time.UnixMilli(77), Data: []byte(data)})
				})
				if err != nil {
					t.Fatalf("%s %s: %v", typ, data, err)
				}
			}
			apply("users.user.registered", `{"id":1,"username":"jake","bio":null,"image":null,"updatedAt":10}`)
			g1 := gen()
			require.NotEmpty(t, g1, "an applied profile invalidates cached pages (they carry authors)")
			apply("users.user.updated", `{"id":1,"username":"jake","bio":"new","image":"i","updatedAt":"1970-01-01T00:00:00.020Z"}`)
			g2 := gen()
			require.NotEqual(t, g1, g2)
			apply("users.user.updated", `{"id":1,"username":"jake","bio":"old","image":null,"updatedAt":15}`)
			require.Equal(t, g2, gen(), "an older profile changes nothing, so nothing is invalidated")
			apply("users.follow.created", `{"followerId":2,"followeeId":1,"at":5}`)
			apply("users.follow.deleted", `{"followerId":3,"followeeId":1}`) // no at: the event's time (77)
			apply("users.follow.created", `{"followerId":3,"followeeId":1,"at":50}`)
			// Malformed or unknown events are dropped, not retried for ever.
			apply("users.user.updated", `{"id":"one"}`)
			apply("users.user.updated", `{"id":0,"username":"x"}`)
			apply("users.follow.created", `[]`)
			apply("users.something.else", `{}`)

			ps, err := store.Authors(t.Context(), []int64{1})
			if err != nil || *ps[1].Bio != "new" || *ps[1].Image != "i" || ps[1].Version != 20 {
				t.Fatalf("author %+v (%v)", ps[1], err)
			}
			if m, _ := store.Following(t.Context(), 2, []int64{1}); !m[1] {
				t.Fatal("2 should follow 1")
			}
			if m, _ := store.Following(t.Context(), 3, []int64{1}); m[1] {
				t.Fatal("a follow older than the unfollow won")
			}
		})
	}
}
