package blog_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/tungsten-blog/tungsten/internal/blog"
	"github.com/tungsten-blog/tungsten/internal/blog/app"
	"github.com/tungsten-blog/tungsten/internal/blog/ports/eventsub"
	"github.com/tungsten-blog/tungsten/internal/platform/cache"
	"github.com/tungsten-blog/tungsten/internal/platform/events"
	"github.com/tungsten-blog/tungsten/internal/platform/testenv"
)

// checkListCache exercises the list cache through the API: pages are served
// from the cache (a change made behind the blog's back stays invisible),
// every write through the blog invalidates them, page and filter are part of
// the key, and viewer flags are laid over the shared cached page.
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
	if got := titles(ts.do("GET", "/api/articles", "", nil)); !slices.Equal(got, []string{"First"}) {
		t.Fatalf("list %q", got)
	}
	if _, err := ts.db.ExecContext(t.Context(), `UPDATE articles SET title = 'Changed behind the cache'`); err != nil {
		t.Fatal(err)
	}
	if got := titles(ts.do("GET", "/api/articles", "", nil)); !slices.Equal(got, []string{"First"}) {
		t.Fatalf("list not served from cache: %q", got)
	}
	// A write through the blog (here a favorite) invalidates every cached page.
	ts.do("POST", "/api/articles/"+a+"/favorite", bob, nil).want(t, http.StatusOK)
	r := ts.do("GET", "/api/articles", "", nil)
	if got := titles(r); !slices.Equal(got, []string{"Changed behind the cache"}) || r.articles()[0]["favoritesCount"] != 1.0 {
		t.Fatalf("after write: %s", r.raw)
	}
	// Viewer flags are not cached with the page.
	if ts.do("GET", "/api/articles", bob, nil).articles()[0]["favorited"] != true ||
		ts.do("GET", "/api/articles", jake, nil).articles()[0]["favorited"] != false {
		t.Fatal("favorited flag leaked between viewers through the cache")
	}
	// Offset and filters are part of the key.
	ts.create(jake, "Second", "db")
	page := func(params ...string) []string { return titles(ts.do("GET", q("/api/articles", params...), "", nil)) }
	if p0, p1 := page("limit", "1", "offset", "0"), page("limit", "1", "offset", "1"); !slices.Equal(p0, []string{"Second"}) ||
		!slices.Equal(p1, []string{"Changed behind the cache"}) {
		t.Fatalf("pages %q %q", p0, p1)
	}
	if got := page("tag", "db"); !slices.Equal(got, []string{"Second"}) {
		t.Fatalf("tag db %q", got)
	}
	if got := page("tag", "go"); !slices.Equal(got, []string{"Changed behind the cache"}) {
		t.Fatalf("tag go %q", got)
	}
	// Tags and categories are invalidated too.
	ts.do("GET", "/api/tags", "", nil).want(t, http.StatusOK)
	ts.create(jake, "Third", "fresh")
	if tags := ts.do("GET", "/api/tags", "", nil).body["tags"].([]any); !slices.Contains(tags, any("fresh")) {
		t.Fatalf("tags not invalidated: %v", tags)
	}
	// Comments bump the generation as well (a comment is a blog write).
	ts.do("POST", "/api/articles/"+a+"/comments", bob, map[string]any{"comment": map[string]any{"body": "hi"}}).want(t, http.StatusOK)
	if got := page(); len(got) != 3 {
		t.Fatalf("list %q", got)
	}
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
		if favorited() != true {
			t.Fatal("bob's favorite is not shown")
		}
	}
	ts.do("DELETE", "/api/articles/"+a+"/favorite", bob, nil).want(t, http.StatusOK)
	if got := favorited(); got != false {
		t.Fatalf("bob's unfavorite is not visible to him at once: %v", got)
	}
}

func TestListCacheMemory(t *testing.T) {
	t.Parallel()
	ts := newTestService(t, withCache(cache.NewMemory(1000, nil)))
	checkListCache(t, ts)
}

func TestListCacheRedis(t *testing.T) {
	t.Parallel()
	opt, err := redis.ParseURL(testenv.URL(t, testenv.EnvRedis))
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewClient(opt)
	t.Cleanup(func() { _ = client.Close() })
	prefix := testenv.Name("test-blog-") + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		keys, _ := client.Keys(ctx, prefix+"*").Result()
		if len(keys) > 0 {
			client.Del(ctx, keys...)
		}
	})
	ts := newTestService(t, withCache(cache.NewRedis(client, prefix, slog.New(slog.DiscardHandler), nil)))
	checkListCache(t, ts)
	keys, err := client.Keys(t.Context(), prefix+"blog:list:*").Result()
	if err != nil || len(keys) == 0 {
		t.Fatalf("no list pages in Redis under %q (%v)", prefix, err)
	}
	if gen, err := client.Get(t.Context(), prefix+"blog:gen").Int(); err != nil || gen < 4 {
		t.Fatalf("generation %d (%v)", gen, err)
	}
}

// TestRedisDown points the cache at a closed port: every request still
// succeeds, from the database.
func TestRedisDown(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	client := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	t.Cleanup(func() { _ = client.Close() })
	ts := newTestService(t, withCache(cache.NewRedis(client, "down:", slog.New(slog.DiscardHandler), nil)))
	jake := ts.tokens.user(t, 1, "jake")
	a := ts.create(jake, "Written while Redis is down", "x")
	for range 2 {
		if r := ts.do("GET", "/api/articles", "", nil).want(t, http.StatusOK); r.count() != 1 {
			t.Fatalf("list %s", r.raw)
		}
	}
	ts.do("POST", "/api/articles/"+a+"/favorite", jake, nil).want(t, http.StatusOK)
	if r := ts.do("GET", q("/api/articles", "tag", "x"), jake, nil).want(t, http.StatusOK); r.articles()[0]["favorited"] != true {
		t.Fatalf("list %s", r.raw)
	}
	ts.do("GET", "/api/tags", "", nil).want(t, http.StatusOK)
	ts.do("GET", "/api/categories", "", nil).want(t, http.StatusOK)
	ts.do("DELETE", "/api/articles/"+a, jake, nil).want(t, http.StatusNoContent)
	if r := ts.do("GET", "/api/articles", "", nil).want(t, http.StatusOK); r.count() != 0 {
		t.Fatalf("stale list after delete: %s", r.raw)
	}
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
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
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
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ns := events.Namespace(testenv.Name("t"))
	t.Cleanup(func() {
		ctx := context.Background()
		_ = js.DeleteStream(ctx, ns.Stream("users"))
		_ = js.DeleteStream(ctx, ns.Stream("blog"))
	})
	ts := newTestService(t, withJetStream(js, ns))
	ctx := t.Context()
	if err := ts.svc.Start(ctx); err != nil {
		t.Fatalf("Start without the users stream: %v", err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := ts.svc.Stop(sctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})

	// The users service starts and creates its stream.
	usersRelay := events.NewRelay(events.RelayConfig{Producer: "users", EventTypes: eventsub.EventTypes, Namespace: ns},
		events.RelayDeps{JetStream: js, Registerer: prometheus.NewRegistry(), Tracer: noop.NewTracerProvider().Tracer("t"),
			Propagator: propagation.TraceContext{}, Logger: slog.New(slog.DiscardHandler)})
	if err := usersRelay.EnsureStream(ctx); err != nil {
		t.Fatal(err)
	}
	publish := func(eventID, eventType string, payload any) {
		t.Helper()
		msg := nats.NewMsg(ns.Subject(eventType))
		msg.Data, _ = json.Marshal(payload)
		msg.Header.Set(events.HeaderEventID, eventID)
		msg.Header.Set(events.HeaderOccurredAt, strconv.FormatInt(time.Now().UnixMilli(), 10))
		if _, err := js.PublishMsg(ctx, msg); err != nil {
			t.Fatal(err)
		}
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
	if err != nil || authors[5].Username != "eve" || *authors[5].Bio != "hello" || authors[5].Version != 1000 {
		t.Fatalf("read model %+v (%v)", authors, err)
	}
	if m, _ := store.Following(ctx, 6, []int64{5}); m[5] {
		t.Fatal("duplicate event e4 was applied twice (follow came back)")
	}
	var processed int
	if err := ts.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM processed_events WHERE consumer = 'blog-users'`).Scan(&processed); err != nil || processed != 5 {
		t.Fatalf("processed events %d (%v), want 5", processed, err)
	}

	// The read model serves eve's profile without asking users, and follows
	// show for the follower.
	eve := ts.tokens.user(t, 5, "eve")
	slug := ts.create(eve, "Eve's article")
	au := ts.do("GET", "/api/articles/"+slug, ts.tokens.user(t, 7, "fan"), nil).want(t, http.StatusOK).article()["author"].(map[string]any)
	if au["bio"] != "hello" || au["following"] != true {
		t.Fatalf("author %v", au)
	}
	if ts.users.callCount() != 0 {
		t.Fatalf("users was called %d times", ts.users.callCount())
	}
	if r := ts.do("GET", "/api/articles/feed", ts.tokens.user(t, 7, "fan"), nil).want(t, http.StatusOK); r.count() != 1 {
		t.Fatalf("feed %s", r.raw)
	}

	// blog.article.published left through the outbox and the relay.
	cons, err := js.OrderedConsumer(ctx, ns.Stream("blog"), jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{ns.Subject("blog.article.published")}})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := cons.Next(jetstream.FetchMaxWait(10 * time.Second))
	if err != nil {
		t.Fatalf("no blog.article.published on the stream: %v", err)
	}
	var ev map[string]any
	if err := json.Unmarshal(msg.Data(), &ev); err != nil || ev["slug"] != slug || ev["authorId"] != 5.0 || msg.Headers().Get(events.HeaderEventID) == "" {
		t.Fatalf("event %s (%v)", msg.Data(), err)
	}
	eventually(t, "the outbox to drain", func() bool {
		var n int
		return ts.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox`).Scan(&n) == nil && n == 0
	})
}

// checkGenerationEviction proves that losing the generation counter (a Redis
// eviction, the LRU) cannot bring back pages cached before a write: pages
// cached before any write and after one are both unreachable afterwards.
func checkGenerationEviction(t *testing.T, ts *testService, c cache.Cache) {
	t.Helper()
	jake := ts.tokens.user(t, 1, "jake")
	ts.users.add(1, "jake", "", 1)
	if n := ts.do("GET", "/api/articles", "", nil).want(t, http.StatusOK).count(); n != 0 {
		t.Fatalf("%d articles before any write", n)
	}
	ts.do("GET", "/api/tags", "", nil).want(t, http.StatusOK)
	slug := ts.create(jake, "Fresh", "new")
	for range 2 {
		if n := ts.do("GET", "/api/articles", "", nil).want(t, http.StatusOK).count(); n != 1 {
			t.Fatalf("after the write: %d articles", n)
		}
		ts.do("GET", "/api/articles/"+slug, "", nil).want(t, http.StatusOK)
	}
	if _, err := ts.db.ExecContext(t.Context(), `UPDATE articles SET title = 'Changed behind the cache'`); err != nil {
		t.Fatal(err)
	}
	c.Delete(t.Context(), app.GenKey) // evicted
	r := ts.do("GET", "/api/articles", "", nil).want(t, http.StatusOK)
	if r.count() != 1 || r.articles()[0]["title"] != "Changed behind the cache" {
		t.Fatalf("a page cached before the eviction came back: %s", r.raw)
	}
	if got := ts.do("GET", "/api/articles/"+slug, "", nil).want(t, http.StatusOK).article()["title"]; got != "Changed behind the cache" {
		t.Fatalf("an article cached before the eviction came back: %v", got)
	}
	if tags := ts.do("GET", "/api/tags", "", nil).body["tags"].([]any); !slices.Contains(tags, any("new")) {
		t.Fatalf("tags cached before any write came back: %v", tags)
	}
	// And the cache works again after the eviction.
	if _, err := ts.db.ExecContext(t.Context(), `UPDATE articles SET title = 'Behind again'`); err != nil {
		t.Fatal(err)
	}
	if got := ts.do("GET", "/api/articles", "", nil).articles()[0]["title"]; got != "Changed behind the cache" {
		t.Fatalf("not cached after the eviction: %v", got)
	}
}

func TestGenerationEvictionMemory(t *testing.T) {
	t.Parallel()
	c := cache.NewMemory(1000, nil)
	checkGenerationEviction(t, newTestService(t, withCache(c)), c)
}

func TestGenerationEvictionRedis(t *testing.T) {
	t.Parallel()
	opts, err := redis.ParseURL(testenv.URL(t, testenv.EnvRedis))
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewClient(opts)
	t.Cleanup(func() { _ = client.Close() })
	prefix := testenv.Name("blogevict") + ":"
	t.Cleanup(func() {
		if keys, _ := client.Keys(context.Background(), prefix+"*").Result(); len(keys) > 0 {
			client.Del(context.Background(), keys...)
		}
	})
	c := cache.NewRedis(client, prefix, slog.New(slog.DiscardHandler), nil)
	checkGenerationEviction(t, newTestService(t, withCache(c)), c)
}
