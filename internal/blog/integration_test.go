package blog_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
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
	// A comment changes nothing a cached page shows, so it invalidates
	// nothing; an article write still does.
	if got := page(); len(got) != 3 {
		t.Fatalf("list %q", got)
	}
	if _, err := ts.db.ExecContext(t.Context(), `UPDATE articles SET description = 'Changed behind the cache'`); err != nil {
		t.Fatal(err)
	}
	descriptions := func() []string {
		var out []string
		for _, a := range ts.do("GET", "/api/articles", "", nil).want(t, http.StatusOK).articles() {
			out = append(out, a["description"].(string))
		}
		return out
	}
	ts.do("POST", "/api/articles/"+a+"/comments", bob, map[string]any{"comment": map[string]any{"body": "hi"}}).want(t, http.StatusOK)
	if got := descriptions(); slices.Contains(got, "Changed behind the cache") {
		t.Fatalf("a comment invalidated the cached list: %q", got)
	}
	if n := len(ts.do("GET", "/api/articles/"+a+"/comments", "", nil).want(t, http.StatusOK).body["comments"].([]any)); n != 1 {
		t.Fatalf("%d comments, want 1 (comments are read uncached)", n)
	}
	ts.create(jake, "Fourth")
	if got := descriptions(); len(got) != 4 || got[1] != "Changed behind the cache" {
		t.Fatalf("an article write did not invalidate the cached list: %q", got)
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
	ts := newTestService(t, withCache(cache.NewMemory(1000, nil)), withStaleness(0))
	checkListCache(t, ts)
}

// newRedisCache returns a Redis cache under a fresh key prefix, removed
// after the test, and its client.
func newRedisCache(t *testing.T, name string) (*cache.Redis, *redis.Client, string) {
	t.Helper()
	opt, err := redis.ParseURL(testenv.URL(t, testenv.EnvRedis))
	if err != nil {
		t.Fatal(err)
	}
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
	if err != nil || len(keys) == 0 {
		t.Fatalf("no list pages in Redis under %q (%v)", prefix, err)
	}
	if gen, err := client.Get(t.Context(), prefix+"blog:gen").Int(); err != nil || gen < 4 {
		t.Fatalf("generation %d (%v)", gen, err)
	}
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
	if _, err := ts.svc.Store().ApplyFollowTx(t.Context(), ts.db, domain.Follow{FollowerID: 3, FolloweeID: 1, Following: true, At: 10}); err != nil {
		t.Fatal(err)
	}
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
	if got := slugsOf(list("")); !slices.Equal(got, []string{a}) {
		t.Fatalf("list %q", got)
	}
	anonOnly := func() []string {
		return slugsOf(ts.do("GET", q("/api/articles", "limit", "10"), "", nil).want(t, http.StatusOK).articles())
	}
	anonOnly()
	article("")
	if f := feed(amy); len(f) != 1 || f[0]["favorited"] != false {
		t.Fatalf("amy's feed %v", f)
	}
	list(amy)

	// bob publishes and amy favorites jake's article: the others may be
	// served what was cached before, within the bound.
	clock.Advance(staleness / 2)
	b := ts.create(bob, "Second")
	ts.do("POST", "/api/articles/"+a+"/favorite", amy, nil).want(t, http.StatusOK)
	if got := slugsOf(list("")); !slices.Equal(got, []string{a}) {
		t.Fatalf("the page cached before bob's write was not served within the bound: %q", got)
	}
	// eve (who wrote nothing) is served the article as it was cached; its
	// count and her flag come from the same moment.
	if got := article(eve); got["favoritesCount"] != 0.0 || got["favorited"] != false {
		t.Fatalf("article for eve within the bound: %v", got)
	}
	if got := article(""); got["favoritesCount"] != 0.0 {
		t.Fatalf("article for anonymous within the bound: %v", got)
	}
	// The writers see their writes at once: bob his article in the list,
	// amy her favorite in the article, the list and her feed, with counts
	// and flags that agree. (Their reads refresh the shared entries.)
	if got := slugsOf(list(bob)); !slices.Equal(got, []string{b, a}) {
		t.Fatalf("bob does not see his own article at once: %q", got)
	}
	if got := article(amy); got["favorited"] != true || got["favoritesCount"] != 1.0 {
		t.Fatalf("amy's favorite is not in the article for her at once: %v", got)
	}
	if f := feed(amy); len(f) != 1 || f[0]["favorited"] != true || f[0]["favoritesCount"] != 1.0 {
		t.Fatalf("amy's favorite is not in her feed at once: %v", f)
	}
	if l := list(amy); len(l) != 2 || l[1]["favorited"] != true || l[1]["favoritesCount"] != 1.0 {
		t.Fatalf("amy's favorite is not in the list for her at once: %v", l)
	}
	if got := article(eve); got["favoritesCount"] != 1.0 || got["favorited"] != false {
		t.Fatalf("article for eve after amy's read refreshed it: %v", got)
	}

	// The page only anonymous viewers read is still the old one just before
	// the bound; at the bound everyone sees every write.
	clock.Advance(staleness/2 - time.Millisecond)
	if got := anonOnly(); !slices.Equal(got, []string{a}) {
		t.Fatalf("just within the bound: %q", got)
	}
	clock.Advance(time.Millisecond)
	if got := anonOnly(); !slices.Equal(got, []string{b, a}) {
		t.Fatalf("bob's article is not visible to everyone at the bound: %q", got)
	}

	// A renamed or deleted article's own page is current at once for
	// everyone (its entry is deleted), not only within the bound.
	ts.do("PUT", "/api/articles/"+a, jake, map[string]any{"article": map[string]any{"body": "Rewritten"}}).want(t, http.StatusOK)
	if got := ts.do("GET", "/api/articles/"+a, "", nil).want(t, http.StatusOK).article()["body"]; got != "Rewritten" {
		t.Fatalf("an updated article's page is stale: %v", got)
	}
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
	if err != nil {
		t.Fatal(err)
	}
	keys, err := client.Keys(ctx, prefix+"blog:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	rewritten := 0
	for _, k := range keys {
		if k == prefix+app.GenKey || strings.HasPrefix(k, prefix+app.WroteKey(0)[:len("blog:wrote:")]) {
			continue
		}
		v, err := client.Get(ctx, k).Bytes()
		if err != nil || len(v) < 9 {
			t.Fatalf("%s: %q (%v)", k, v, err)
		}
		// The current format: format byte, 8 bytes of time, stamp, payload.
		n, w := binary.Uvarint(v[9:])
		payload := bytes.ReplaceAll(v[9+w+int(n):], []byte("First"), []byte("Stale"))
		old := append(binary.AppendUvarint(nil, uint64(len(gen))), gen...)
		if err := client.Set(ctx, k, append(old, payload...), time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		rewritten++
	}
	if rewritten < 2 {
		t.Fatalf("rewrote %d entries of %q", rewritten, keys)
	}
	if got := ts.do("GET", "/api/articles", "", nil).want(t, http.StatusOK).articles()[0]["title"]; got != "First" {
		t.Fatalf("an old-format list entry was served: %v", got)
	}
	if got := ts.do("GET", "/api/articles/"+a, "", nil).want(t, http.StatusOK).article()["title"]; got != "First" {
		t.Fatalf("an old-format article entry was served: %v", got)
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
// The blog's clock moves past the staleness bound after the write.
func checkGenerationEviction(t *testing.T, ts *testService, c cache.Cache, clock *fakeClock) {
	t.Helper()
	jake := ts.tokens.user(t, 1, "jake")
	ts.users.add(1, "jake", "", 1)
	if n := ts.do("GET", "/api/articles", "", nil).want(t, http.StatusOK).count(); n != 0 {
		t.Fatalf("%d articles before any write", n)
	}
	ts.do("GET", "/api/tags", "", nil).want(t, http.StatusOK)
	slug := ts.create(jake, "Fresh", "new")
	clock.Advance(staleness)
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
	// Past the bound, only entries of the current generation may be served:
	// none of those cached before the eviction is.
	clock.Advance(staleness)
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
