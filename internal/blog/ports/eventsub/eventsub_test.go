package eventsub_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tungsten-blog/tungsten/internal/blog"
	"github.com/tungsten-blog/tungsten/internal/blog/adapters/sqlstore"
	"github.com/tungsten-blog/tungsten/internal/blog/app"
	"github.com/tungsten-blog/tungsten/internal/blog/domain"
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
			svc := app.New(app.Config{ListCacheTTL: time.Minute, Staleness: 10 * time.Second}, app.Deps{Cache: mem})
			h := eventsub.Handler(store, svc, slog.New(slog.DiscardHandler))
			gen := func() string { g, _ := mem.Get(t.Context(), app.GenKey); return string(g) }
			marked := func(id int64) bool { _, ok := mem.Get(t.Context(), app.WroteKey(id)); return ok }
			apply := func(typ, data string) {
				t.Helper()
				err := db.Transact(t.Context(), func(tx *database.Tx) error {
					return h(t.Context(), tx, events.Event{ID: "x", Type: typ, OccurredAt: time.UnixMilli(77), Data: []byte(data)})
				})
				require.NoError(t, err, "%s %s", typ, data)
			}
			apply("users.user.registered", `{"id":1,"username":"jake","bio":null,"image":null,"updatedAt":10}`)
			require.Empty(t, gen(), "a registration invalidates nothing: no cached page can carry an author the read model did not know")
			require.False(t, marked(1))
			apply("users.user.updated", `{"id":1,"username":"jake","bio":"new","image":"i","updatedAt":"1970-01-01T00:00:00.020Z"}`)
			g2 := gen()
			require.NotEmpty(t, g2, "an applied profile change invalidates cached pages (they carry authors)")
			require.True(t, marked(1), "the updated user reads strictly for a while, so they see their profile at once")
			apply("users.user.updated", `{"id":1,"username":"jake","bio":"old","image":null,"updatedAt":15}`)
			require.Equal(t, g2, gen(), "an older profile changes nothing, so nothing is invalidated")
			apply("users.follow.created", `{"followerId":2,"followeeId":1,"at":5}`)
			require.NotEqual(t, g2, gen(), "a follow invalidates (flags and feeds carry follows)")
			require.True(t, marked(2), "the follower reads strictly for a while")
			apply("users.follow.deleted", `{"followerId":3,"followeeId":1}`) // no at: the event's time (77)
			apply("users.follow.created", `{"followerId":3,"followeeId":1,"at":50}`)
			// Malformed or unknown events are dropped, not retried for ever.
			apply("users.user.updated", `{"id":"one"}`)
			apply("users.user.updated", `{"id":0,"username":"x"}`)
			apply("users.follow.created", `[]`)
			apply("users.something.else", `{}`)

			ps, err := store.Authors(t.Context(), []int64{1})
			require.NoError(t, err)
			require.Equal(t, "new", *ps[1].Bio, "author %+v", ps[1])
			require.Equal(t, "i", *ps[1].Image, "author %+v", ps[1])
			require.Equal(t, int64(20), ps[1].Version, "author %+v", ps[1])
			m, _ := store.Following(t.Context(), 2, []int64{1})
			require.True(t, m[1], "2 should follow 1")
			m, _ = store.Following(t.Context(), 3, []int64{1})
			require.False(t, m[1], "a follow older than the unfollow won")

			// A deleted account leaves the read model with its follows, both ways.
			apply("users.user.registered", `{"id":2,"username":"fan","bio":null,"image":null,"updatedAt":10}`)
			apply("users.follow.created", `{"followerId":1,"followeeId":2,"at":60}`)
			g3 := gen()
			apply("users.user.deleted", `{"id":1,"at":90}`)
			require.NotEqual(t, g3, gen(), "a deletion invalidates cached pages")
			ps, err = store.Authors(t.Context(), []int64{1, 2})
			require.NoError(t, err)
			require.NotContains(t, ps, int64(1))
			require.Contains(t, ps, int64(2))
			for _, f := range [][2]int64{{2, 1}, {1, 2}} {
				m, err := store.Following(t.Context(), f[0], []int64{f[1]})
				require.NoError(t, err)
				require.False(t, m[f[1]], "follow %d→%d went with the account", f[0], f[1])
			}
			apply("users.user.deleted", `{"id":"x"}`) // malformed: dropped

			// A rename rewrites the name stored with the author's writing: it is
			// what readers see when nothing better is known, and the old name
			// may belong to someone else one day.
			a, err := store.CreateArticle(t.Context(), domain.ArticleInput{Title: "Before", Description: "d", Body: "b"}, 5, "oldname")
			require.NoError(t, err)
			_, err = store.AddComment(t.Context(), a.Slug, 5, "oldname", "hi")
			require.NoError(t, err)
			apply("users.user.registered", `{"id":5,"username":"oldname","bio":null,"image":null,"updatedAt":10}`)
			apply("users.user.updated", `{"id":5,"username":"newname","bio":null,"image":null,"updatedAt":11}`)
			got, err := store.Article(t.Context(), a.Slug)
			require.NoError(t, err)
			require.Equal(t, "newname", got.AuthorUsername)
			cs, err := store.Comments(t.Context(), a.Slug, 0)
			require.NoError(t, err)
			require.Equal(t, "newname", cs[0].AuthorUsername)
		})
	}
}
