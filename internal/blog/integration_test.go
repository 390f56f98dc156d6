package blog_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/tungsten-blog/tungsten/internal/blog"
	"github.com/tungsten-blog/tungsten/internal/blog/app"
	"github.com/tungsten-blog/tungsten/internal/blog/blogevents"
	"github.com/tungsten-blog/tungsten/internal/blog/domain"
	"github.com/tungsten-blog/tungsten/internal/blog/ports/eventsub"
	"github.com/tungsten-blog/tungsten/internal/platform/cache"
	"github.com/tungsten-blog/tungsten/internal/platform/events"
	"github.com/tungsten-blog/tungsten/internal/platform/testenv"
)

// checkListCache exercises the list cache through the API with strict
// freshness (no staleness bound): pages are served from the cache (a change
// made behind the blog's back stays invisible), every article and favorite
// write through the blog invalidates them for everyone at once (a comment
// does not), page and filter are part of the key, and viewer flags are laid
// over the shared cached page.
func checkListCache(t *testing.T, ts *testService) {
	t.Helper()
	jake, bob := ts.tokens.user(t, 1, "jake"), ts.tokens.user(t, 2, "bob")
	// Known authors: pages whose authors cannot be resolved are not cached.
	ts.users.add(1, "jake", "", 1)
	ts.users.add(2, "bob", "", 1)
	a := ts.create(jake, "First", "go")
	titles := func(r response) []string {
		var out []string
		for _, a := range r.want(t, http.StatusOK).articles() {
			out = append(out, a["title"].(string))
		}
		return out
	}
	require.Equal(t, []string{"First"}, titles(ts.do("GET", "/api/articles", "", nil)), "list")
	_, err := ts.db.ExecContext(t.Context(), `UPDATE articles SET title = 'Changed behind the cache'`)
	require.NoError(t, err)
	require.Equal(t, []string{"First"}, titles(ts.do("GET", "/api/articles", "", nil)), "list not served from cache")
	// A write through the blog (here a favorite) invalidates every cached page.
	ts.do("POST", "/api/articles/"+a+"/favorite", bob, nil).want(t, http.StatusOK)
	r := ts.do("GET", "/api/articles", "", nil)
	require.Equal(t, []string{"Changed behind the cache"}, titles(r), "after write: %s", r.raw)
	require.Equal(t, 1.0, r.articles()[0]["favoritesCount"], "after write: %s", r.raw)
	// Viewer flags are not cached with the page.
	require.Equal(t, true, ts.do("GET", "/api/articles", bob, nil).articles()[0]["favorited"], "favorited flag leaked between viewers through the cache")
	require.Equal(t, false, ts.do("GET", "/api/articles", jake, nil).articles()[0]["favorited"], "favorited flag leaked between viewers through the cache")
	// Offset and filters are part of the key.
	ts.create(jake, "Second", "db")
	page := func(params ...string) []string { return titles(ts.do("GET", q("/api/articles", params...), "", nil)) }
	require.Equal(t, []string{"Second"}, page("limit", "1", "offset", "0"), "first page")
	require.Equal(t, []string{"Changed behind the cache"}, page("limit", "1", "offset", "1"), "second page")
	require.Equal(t, []string{"Second"}, page("tag", "db"), "tag db")
	require.Equal(t, []string{"Changed behind the cache"}, page("tag", "go"), "tag go")
	// Tags and categories are invalidated too.
	ts.do("GET", "/api/tags", "", nil).want(t, http.StatusOK)
	ts.create(jake, "Third", "fresh")
	require.Contains(t, ts.do("GET", "/api/tags", "", nil).body["tags"].([]any), "fresh", "tags not invalidated")
	// A comment changes nothing a cached page shows, so it invalidates
	// nothing; an article write still does.
	require.Len(t, page(), 3, "list")
	_, err = ts.db.ExecContext(t.Context(), `UPDATE articles SET description = 'Changed behind the cache'`)
	require.NoError(t, err)
	descriptions := func() []string {
		var out []string
		for _, a := range ts.do("GET", "/api/articles", "", nil).want(t, http.StatusOK).articles() {
			out = append(out, a["description"].(string))
		}
		return out
	}
	ts.do("POST", "/api/articles/"+a+"/comments", bob, map[string]any{"comment": map[string]any{"body": "hi"}}).want(t, http.StatusOK)
	require.NotContains(t, descriptions(), "Changed behind the cache", "a comment invalidated the cached list")
	require.Len(t, ts.do("GET", "/api/articles/"+a+"/comments", "", nil).want(t, http.StatusOK).body["comments"].([]any), 1,
		"comments are read uncached")
	ts.create(jake, "Fourth")
	got := descriptions()
	require.Len(t, got, 4, "an article write did not invalidate the cached list: %q", got)
	require.Equal(t, "Changed behind the cache", got[1], "an article write did not invalidate the cached list: %q", got)
	// A viewer's flags are cached for them, and their own write resets them.
	favorited := func() any {
		for _, x := range ts.do("GET", "/api/articles", bob, nil).want(t, http.StatusOK).articles() {
			if x["slug"] == a {
				return x["favorited"]
			}
		}
		return nil
	}
	for range 2 { // a miss, then a hit of the cached flags
		require.Equal(t, true, favorited(), "bob's favorite is not shown")
	}
	ts.do("DELETE", "/api/articles/"+a+"/favorite", bob, nil).want(t, http.StatusOK)
	require.Equal(t, false, favorited(), "bob's unfavorite is not visible to him at once")
}

func TestListCacheMemory(t *testing.T) {
	t.Parallel()
	ts := newTestService(t, withCache(cache.NewMemory(1000, nil)), withStaleness(0))
	checkListCache(t, ts)
}

// newRedisCache returns a Redis cache under a fresh key prefix, removed
// after the test, and its client.
func newRedisCache(t *testing.T, name string) (*cache.Redis, *redis.Client, string) {
	t.Helper()
	opt, err := redis.ParseURL(testenv.URL(t, testenv.EnvRedis))
	require.NoError(t, err)
	client := redis.NewClient(opt)
	t.Cleanup(func() { _ = client.Close() })
	prefix := testenv.Name(name) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		if keys, _ := client.Keys(ctx, prefix+"*").Result(); len(keys) > 0 {
			client.Del(ctx, keys...)
		}
	})
	return cache.NewRedis(client, prefix, slog.New(slog.DiscardHandler), nil), client, prefix
}

func TestListCacheRedis(t *testing.T) {
	t.Parallel()
	c, client, prefix := newRedisCache(t, "test-blog-")
	ts := newTestService(t, withCache(c), withStaleness(0))
	checkListCache(t, ts)
	keys, err := client.Keys(t.Context(), prefix+"blog:list:*").Result()
	require.NoError(t, err)
	require.NotEmpty(t, keys, "no list pages in Redis under %q", prefix)
	gen, err := client.Get(t.Context(), prefix+"blog:gen").Int()
	require.NoError(t, err)
	require.GreaterOrEqual(t, gen, 4, "generation")
}

// staleness is the bound the staleness tests run with: long enough that
// real time (the cache's TTLs, the writers' markers) never runs out during
// a test on a busy machine; the tests move the blog's clock instead.
const staleness = 10 * time.Second

// checkBoundedStaleness proves the staleness bound through the API: after
// someone's write, other viewers may be served the page cached before it,
// but only until it is older than the bound; the writer sees their write at
// once in lists, single articles and their feed, with consistent flags.
func checkBoundedStaleness(t *testing.T, ts *testService, clock *fakeClock) {
	t.Helper()
	ts.users.add(1, "jake", "", 1)
	ts.users.add(2, "bob", "", 1)
	ts.users.add(3, "amy", "", 1)
	ts.users.add(4, "eve", "", 1)
	jake, bob, amy := ts.tokens.user(t, 1, "jake"), ts.tokens.user(t, 2, "bob"), ts.tokens.user(t, 3, "amy")
	eve := ts.tokens.user(t, 4, "eve") // writes nothing
	_, err := ts.svc.Store().ApplyFollowTx(t.Context(), ts.db, domain.Follow{FollowerID: 3, FolloweeID: 1, Following: true, At: 10})
	require.NoError(t, err)
	a := ts.create(jake, "First", "go")
	list := func(token string) []map[string]any {
		return ts.do("GET", "/api/articles", token, nil).want(t, http.StatusOK).articles()
	}
	article := func(token string) map[string]any {
		return ts.do("GET", "/api/articles/"+a, token, nil).want(t, http.StatusOK).article()
	}
	feed := func(token string) []map[string]any {
		return ts.do("GET", "/api/articles/feed", token, nil).want(t, http.StatusOK).articles()
	}
	// Cache the front page, a page only anonymous viewers read, the article
	// and amy's feed (and her flags).
	require.Equal(t, []string{a}, slugsOf(list("")), "list")
	anonOnly := func() []string {
		return slugsOf(ts.do("GET", q("/api/articles", "limit", "10"), "", nil).want(t, http.StatusOK).articles())
	}
	anonOnly()
	article("")
	f := feed(amy)
	require.Len(t, f, 1, "amy's feed %v", f)
	require.Equal(t, false, f[0]["favorited"], "amy's feed %v", f)
	list(amy)

	// bob publishes and amy favorites jake's article: the others may be
	// served what was cached before, within the bound.
	clock.Advance(staleness / 2)
	b := ts.create(bob, "Second")
	ts.do("POST", "/api/articles/"+a+"/favorite", amy, nil).want(t, http.StatusOK)
	require.Equal(t, []string{a}, slugsOf(list("")), "the page cached before bob's write was not served within the bound")
	// eve (who wrote nothing) is served the article as it was cached; its
	// count and her flag come from the same moment.
	got := article(eve)
	require.Equal(t, 0.0, got["favoritesCount"], "article for eve within the bound: %v", got)
	require.Equal(t, false, got["favorited"], "article for eve within the bound: %v", got)
	got = article("")
	require.Equal(t, 0.0, got["favoritesCount"], "article for anonymous within the bound: %v", got)
	// The writers see their writes at once: bob his article in the list,
	// amy her favorite in the article, the list and her feed, with counts
	// and flags that agree. (Their reads refresh the shared entries.)
	require.Equal(t, []string{b, a}, slugsOf(list(bob)), "bob does not see his own article at once")
	got = article(amy)
	require.Equal(t, true, got["favorited"], "amy's favorite is not in the article for her at once: %v", got)
	require.Equal(t, 1.0, got["favoritesCount"], "amy's favorite is not in the article for her at once: %v", got)
	f = feed(amy)
	require.Len(t, f, 1, "amy's feed %v", f)
	require.Equal(t, true, f[0]["favorited"], "amy's favorite is not in her feed at once: %v", f)
	require.Equal(t, 1.0, f[0]["favoritesCount"], "amy's favorite is not in her feed at once: %v", f)
	l := list(amy)
	require.Len(t, l, 2, "the list for amy %v", l)
	require.Equal(t, true, l[1]["favorited"], "amy's favorite is not in the list for her at once: %v", l)
	require.Equal(t, 1.0, l[1]["favoritesCount"], "amy's favorite is not in the list for her at once: %v", l)
	got = article(eve)
	require.Equal(t, 1.0, got["favoritesCount"], "article for eve after amy's read refreshed it: %v", got)
	require.Equal(t, false, got["favorited"], "article for eve after amy's read refreshed it: %v", got)

	// The page only anonymous viewers read is still the old one just before
	// the bound; at the bound everyone sees every write.
	clock.Advance(staleness/2 - time.Millisecond)
	require.Equal(t, []string{a}, anonOnly(), "just within the bound")
	clock.Advance(time.Millisecond)
	require.Equal(t, []string{b, a}, anonOnly(), "bob's article is not visible to everyone at the bound")

	// A renamed or deleted article's own page is current at once for
	// everyone (its entry is deleted), not only within the bound.
	ts.do("PUT", "/api/articles/"+a, jake, map[string]any{"article": map[string]any{"body": "Rewritten"}}).want(t, http.StatusOK)
	require.Equal(t, "Rewritten", ts.do("GET", "/api/articles/"+a, "", nil).want(t, http.StatusOK).article()["body"], "an updated article's page is stale")
	ts.do("DELETE", "/api/articles/"+b, bob, nil).want(t, http.StatusNoContent)
	ts.do("GET", "/api/articles/"+b, "", nil).want(t, http.StatusNotFound)
}

func TestBoundedStalenessMemory(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	ts := newTestService(t, withCache(cache.NewMemory(1000, nil)), withStaleness(staleness), withClock(clock))
	checkBoundedStaleness(t, ts, clock)
}

func TestBoundedStalenessRedis(t *testing.T) {
	t.Parallel()
	c, _, _ := newRedisCache(t, "test-blogstale")
	clock := newFakeClock()
	ts := newTestService(t, withCache(c), withStaleness(staleness), withClock(clock))
	checkBoundedStaleness(t, ts, clock)
}

// TestOldFormatEntryIsAMiss rewrites every cached entry in the format used
// before entries carried their time (stamp length, stamp, payload), with
// the current generation and a payload that would be served if it were
// misread: it must be a miss.
func TestOldFormatEntryIsAMiss(t *testing.T) {
	t.Parallel()
	c, client, prefix := newRedisCache(t, "test-blogfmt")
	ts := newTestService(t, withCache(c), withStaleness(staleness))
	ts.users.add(1, "jake", "", 1)
	a := ts.create(ts.tokens.user(t, 1, "jake"), "First", "go")
	ts.do("GET", "/api/articles", "", nil).want(t, http.StatusOK)
	ts.do("GET", "/api/articles/"+a, "", nil).want(t, http.StatusOK)
	ctx := t.Context()
	gen, err := client.Get(ctx, prefix+app.GenKey).Bytes()
	require.NoError(t, err)
	keys, err := client.Keys(ctx, prefix+"blog:*").Result()
	require.NoError(t, err)
	rewritten := 0
	for _, k := range keys {
		if k == prefix+app.GenKey || strings.HasPrefix(k, prefix+app.WroteKey(0)[:len("blog:wrote:")]) {
			continue
		}
		v, err := client.Get(ctx, k).Bytes()
		require.NoError(t, err, k)
		require.GreaterOrEqual(t, len(v), 9, "%s: %q", k, v)
		// The current format: format byte, 8 bytes of time, stamp, payload.
		n, w := binary.Uvarint(v[9:])
		payload := bytes.ReplaceAll(v[9+w+int(n):], []byte("First"), []byte("Stale"))
		old := append(binary.AppendUvarint(nil, uint64(len(gen))), gen...)
		require.NoError(t, client.Set(ctx, k, append(old, payload...), time.Minute).Err())
		rewritten++
	}
	require.GreaterOrEqual(t, rewritten, 2, "entries rewritten of %q", keys)
	require.Equal(t, "First", ts.do("GET", "/api/articles", "", nil).want(t, http.StatusOK).articles()[0]["title"], "an old-format list entry was served")
	require.Equal(t, "First", ts.do("GET", "/api/articles/"+a, "", nil).want(t, http.StatusOK).article()["title"], "an old-format article entry was served")
}

// TestRedisDown points the cache at a closed port: every request still
// succeeds, from the database.
func TestRedisDown(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	_ = l.Close()
	client := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	t.Cleanup(func() { _ = client.Close() })
	ts := newTestService(t, withCache(cache.NewRedis(client, "down:", slog.New(slog.DiscardHandler), nil)))
	jake := ts.tokens.user(t, 1, "jake")
	a := ts.create(jake, "Written while Redis is down", "x")
	for range 2 {
		r := ts.do("GET", "/api/articles", "", nil).want(t, http.StatusOK)
		require.Equal(t, 1, r.count(), "list %s", r.raw)
	}
	ts.do("POST", "/api/articles/"+a+"/favorite", jake, nil).want(t, http.StatusOK)
	r := ts.do("GET", q("/api/articles", "tag", "x"), jake, nil).want(t, http.StatusOK)
	require.Equal(t, true, r.articles()[0]["favorited"], "list %s", r.raw)
	ts.do("GET", "/api/tags", "", nil).want(t, http.StatusOK)
	ts.do("GET", "/api/categories", "", nil).want(t, http.StatusOK)
	ts.do("DELETE", "/api/articles/"+a, jake, nil).want(t, http.StatusNoContent)
	r = ts.do("GET", "/api/articles", "", nil).want(t, http.StatusOK)
	require.Zero(t, r.count(), "stale list after delete: %s", r.raw)
}

func withJetStream(js jetstream.JetStream, ns events.Namespace) option {
	return func(c *blog.Config, d *blog.Deps) {
		d.JetStream, d.Namespace = js, ns
		c.RelayPollInterval = 100 * time.Millisecond
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		require.False(t, time.Now().After(deadline), "timed out waiting for %s", what)
		time.Sleep(50 * time.Millisecond)
	}
}

// TestUsersEventsOverNATS starts the blog against a real NATS server before
// the users stream exists, then publishes users events as the users service
// would: they reach the read model exactly once each, in version order, and
// the blog's own events leave through the outbox.
func TestUsersEventsOverNATS(t *testing.T) {
	t.Parallel()
	nc, err := nats.Connect(testenv.URL(t, testenv.EnvNATS))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ns := events.Namespace(testenv.Name("t"))
	t.Cleanup(func() {
		ctx := context.Background()
		_ = js.DeleteStream(ctx, ns.Stream("users"))
		_ = js.DeleteStream(ctx, ns.Stream("blog"))
	})
	ts := newTestService(t, withJetStream(js, ns))
	ctx := t.Context()
	require.NoError(t, ts.svc.Start(ctx), "Start without the users stream")
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		assert.NoError(t, ts.svc.Stop(sctx), "Stop")
	})

	// The users service starts and creates its stream.
	usersRelay := events.NewRelay(events.RelayConfig{Producer: "users", EventTypes: eventsub.EventTypes, Namespace: ns},
		events.RelayDeps{JetStream: js, Registerer: prometheus.NewRegistry(), Tracer: noop.NewTracerProvider().Tracer("t"),
			Propagator: propagation.TraceContext{}, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, usersRelay.EnsureStream(ctx))
	publish := func(eventID, eventType string, payload any) {
		t.Helper()
		msg := nats.NewMsg(ns.Subject(eventType))
		msg.Data, _ = json.Marshal(payload)
		msg.Header.Set(events.HeaderEventID, eventID)
		msg.Header.Set(events.HeaderOccurredAt, strconv.FormatInt(time.Now().UnixMilli(), 10))
		_, err := js.PublishMsg(ctx, msg)
		require.NoError(t, err)
	}
	publish("e1", "users.user.registered", map[string]any{"id": 5, "username": "eve", "bio": "hello", "image": nil, "updatedAt": 1000})
	publish("e2", "users.user.updated", map[string]any{"id": 5, "username": "eve", "bio": "stale", "image": nil, "updatedAt": 500})
	publish("e3", "users.follow.created", map[string]any{"followerId": 6, "followeeId": 5, "at": 10})
	publish("e4", "users.follow.deleted", map[string]any{"followerId": 6, "followeeId": 5, "at": 20})
	// A redelivered event (same event ID) must not apply again.
	publish("e4", "users.follow.created", map[string]any{"followerId": 6, "followeeId": 5, "at": 30})
	publish("e5", "users.follow.created", map[string]any{"followerId": 7, "followeeId": 5, "at": 40})

	store := ts.svc.Store()
	eventually(t, "the last event to be applied", func() bool {
		m, err := store.Following(ctx, 7, []int64{5})
		return err == nil && m[5]
	})
	authors, err := store.Authors(ctx, []int64{5})
	require.NoError(t, err)
	require.Equal(t, "eve", authors[5].Username, "read model %+v", authors)
	require.Equal(t, "hello", *authors[5].Bio, "read model %+v", authors)
	require.Equal(t, int64(1000), authors[5].Version, "read model %+v", authors)
	m, _ := store.Following(ctx, 6, []int64{5})
	require.False(t, m[5], "duplicate event e4 was applied twice (follow came back)")
	var processed int
	require.NoError(t, ts.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM processed_events WHERE consumer = 'blog-users'`).Scan(&processed))
	require.Equal(t, 5, processed, "processed events")

	// The read model serves eve's profile without asking users, and follows
	// show for the follower.
	eve := ts.tokens.user(t, 5, "eve")
	slug := ts.create(eve, "Eve's article")
	au := ts.do("GET", "/api/articles/"+slug, ts.tokens.user(t, 7, "fan"), nil).want(t, http.StatusOK).article()["author"].(map[string]any)
	require.Equal(t, "hello", au["bio"], "author %v", au)
	require.Equal(t, true, au["following"], "author %v", au)
	require.Zero(t, ts.users.callCount(), "users was called")
	r := ts.do("GET", "/api/articles/feed", ts.tokens.user(t, 7, "fan"), nil).want(t, http.StatusOK)
	require.Equal(t, 1, r.count(), "feed %s", r.raw)

	// blog.article.published left through the outbox and the relay.
	cons, err := js.OrderedConsumer(ctx, ns.Stream("blog"), jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{ns.Subject(blogevents.ArticlePublished)}})
	require.NoError(t, err)
	msg, err := cons.Next(jetstream.FetchMaxWait(10 * time.Second))
	require.NoError(t, err, "no blog.article.published on the stream")
	var ev blogevents.Article
	require.NoError(t, blogevents.Decode(msg.Data(), &ev), "event %s", msg.Data())
	require.Equal(t, slug, ev.Slug, "event %s", msg.Data())
	require.Equal(t, int64(5), ev.AuthorID, "event %s", msg.Data())
	require.Equal(t, blogevents.Version, ev.Version, "event %s", msg.Data())
	require.NotEmpty(t, msg.Headers().Get(events.HeaderEventID), "event without an id header")
	eventually(t, "the outbox to drain", func() bool {
		var n int
		return ts.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox`).Scan(&n) == nil && n == 0
	})
}

// checkGenerationEviction proves that losing the generation counter (a Redis
// eviction, the LRU) cannot bring back pages cached before a write: pages
// cached before any write and after one are both unreachable afterwards.
// The blog's clock moves past the staleness bound after the write.
func checkGenerationEviction(t *testing.T, ts *testService, c cache.Cache, clock *fakeClock) {
	t.Helper()
	jake := ts.tokens.user(t, 1, "jake")
	ts.users.add(1, "jake", "", 1)
	require.Zero(t, ts.do("GET", "/api/articles", "", nil).want(t, http.StatusOK).count(), "articles before any write")
	ts.do("GET", "/api/tags", "", nil).want(t, http.StatusOK)
	slug := ts.create(jake, "Fresh", "new")
	clock.Advance(staleness)
	for range 2 {
		require.Equal(t, 1, ts.do("GET", "/api/articles", "", nil).want(t, http.StatusOK).count(), "articles after the write")
		ts.do("GET", "/api/articles/"+slug, "", nil).want(t, http.StatusOK)
	}
	_, err := ts.db.ExecContext(t.Context(), `UPDATE articles SET title = 'Changed behind the cache'`)
	require.NoError(t, err)
	c.Delete(t.Context(), app.GenKey) // evicted
	// Past the bound, only entries of the current generation may be served:
	// none of those cached before the eviction is.
	clock.Advance(staleness)
	r := ts.do("GET", "/api/articles", "", nil).want(t, http.StatusOK)
	require.Equal(t, 1, r.count(), "a page cached before the eviction came back: %s", r.raw)
	require.Equal(t, "Changed behind the cache", r.articles()[0]["title"], "a page cached before the eviction came back: %s", r.raw)
	require.Equal(t, "Changed behind the cache", ts.do("GET", "/api/articles/"+slug, "", nil).want(t, http.StatusOK).article()["title"],
		"an article cached before the eviction came back")
	require.Contains(t, ts.do("GET", "/api/tags", "", nil).body["tags"].([]any), "new", "tags cached before any write came back")
	// And the cache works again after the eviction.
	_, err = ts.db.ExecContext(t.Context(), `UPDATE articles SET title = 'Behind again'`)
	require.NoError(t, err)
	require.Equal(t, "Changed behind the cache", ts.do("GET", "/api/articles", "", nil).articles()[0]["title"], "not cached after the eviction")
}

func TestGenerationEvictionMemory(t *testing.T) {
	t.Parallel()
	for _, s := range []time.Duration{0, staleness} {
		t.Run(s.String(), func(t *testing.T) {
			t.Parallel()
			c, clock := cache.NewMemory(1000, nil), newFakeClock()
			checkGenerationEviction(t, newTestService(t, withCache(c), withStaleness(s), withClock(clock)), c, clock)
		})
	}
}

func TestGenerationEvictionRedis(t *testing.T) {
	t.Parallel()
	for _, s := range []time.Duration{0, staleness} {
		t.Run(s.String(), func(t *testing.T) {
			t.Parallel()
			c, _, _ := newRedisCache(t, "blogevict")
			clock := newFakeClock()
			checkGenerationEviction(t, newTestService(t, withCache(c), withStaleness(s), withClock(clock)), c, clock)
		})
	}
}
