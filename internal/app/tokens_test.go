package app_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", for creating the test database
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/tungsten-blog/tungsten/internal/app/apptest"
	"github.com/tungsten-blog/tungsten/internal/platform/database"
	"github.com/tungsten-blog/tungsten/internal/platform/testenv"
)

// revocationBound is how long a revoked token may still be accepted by a
// service other than users (ADR 0011: the outbox relay's kick or poll, then
// NATS delivery). Users refuses at once.
const revocationBound = 5 * time.Second

// shape is one way to run Tungsten: the embedded default, or PostgreSQL and
// NATS (a fresh database and subject namespace each).
type shape struct {
	name    string
	dir     string
	args    []string
	pgURL   string // the test database, for the PostgreSQL shape
	natsURL string
	ns      string
}

func shapes(t *testing.T) []shape {
	t.Helper()
	out := []shape{{name: "embedded", dir: t.TempDir()}}
	if testing.Short() {
		return out
	}
	pg := testenv.URL(t, testenv.EnvPostgres)
	natsURL := testenv.URL(t, testenv.EnvNATS)
	name := testenv.Name("tok_")
	admin, err := sql.Open("pgx", pg)
	require.NoError(t, err)
	_, err = admin.Exec("CREATE DATABASE " + name)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
		_ = admin.Close()
	})
	u, err := url.Parse(pg)
	require.NoError(t, err)
	u.Path = "/" + name
	ns := testenv.Name("tok")
	t.Cleanup(func() { deleteStreams(natsURL, ns) })
	return append(out, shape{name: "postgres+nats", dir: t.TempDir(), pgURL: u.String(), natsURL: natsURL, ns: ns,
		args: []string{"--postgres-url=" + u.String(), "--nats-url=" + natsURL, "--nats-namespace=" + ns}})
}

func deleteStreams(natsURL, ns string) {
	nc, err := nats.Connect(natsURL)
	if err != nil {
		return
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, p := range []string{"USERS", "BLOG"} {
		_ = js.DeleteStream(ctx, strings.ToUpper(ns)+"_"+p)
	}
}

// start runs the process until the test ends (or stop is called) and
// returns its public base URL.
func (s shape) start(t *testing.T, extra ...string) (string, func()) {
	t.Helper()
	args := append(append([]string{"--drain-delay=0s"}, apptest.OneClientLimits...), s.args...)
	a, logs := newApp(t, s.dir, append(args, extra...)...)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, time.Now()) }()
	select {
	case <-a.Started():
	case err := <-done:
		cancel()
		require.Failf(t, "run failed", "%v\n%s", err, logs)
	case <-time.After(30 * time.Second):
		cancel()
		require.Fail(t, "not started")
	}
	// Ready means the token revocations are loaded, too.
	require.Eventually(t, func() bool { c, _ := get(t, "http://"+a.AdminAddr()+"/readyz"); return c == 200 },
		10*time.Second, 20*time.Millisecond, "ready")
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			require.NoError(t, <-done)
		}
	}
	t.Cleanup(stop)
	return "http://" + a.PublicAddr(), stop
}

type apiResponse struct {
	status int
	body   map[string]any
	raw    string
}

func call(t *testing.T, base, method, path, token string, body any) apiResponse {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+path, rd)
	require.NoError(t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Token "+token)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	r := apiResponse{status: res.StatusCode, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

func (r apiResponse) want(t *testing.T, status int) apiResponse {
	t.Helper()
	require.Equal(t, status, r.status, r.raw)
	return r
}

func (r apiResponse) token(t *testing.T) string {
	t.Helper()
	tok, _ := r.body["user"].(map[string]any)["token"].(string)
	require.NotEmpty(t, tok, r.raw)
	return tok
}

type account struct{ username, email, password, token string }

func register(t *testing.T, base, username string) account {
	t.Helper()
	a := account{username: username, email: username + "@example.com", password: "password-" + username}
	a.token = call(t, base, "POST", "/api/users", "", map[string]any{"user": map[string]string{
		"username": a.username, "email": a.email, "password": a.password}}).want(t, 201).token(t)
	return a
}

func login(t *testing.T, base, email, password string) apiResponse {
	t.Helper()
	return call(t, base, "POST", "/api/users/login", "", map[string]any{"user": map[string]string{"email": email, "password": password}})
}

func article(title string) map[string]any {
	return map[string]any{"article": map[string]any{"title": title, "description": "d", "body": "b"}}
}

// webSignedIn reports whether the web UI treats token as a signed-in
// session (its settings page answers 200 naming the user).
func webSignedIn(t *testing.T, base, token, username string) bool {
	t.Helper()
	req, err := http.NewRequest("GET", base+"/settings", nil)
	require.NoError(t, err)
	req.AddCookie(&http.Cookie{Name: "tungsten_session", Value: token})
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode == 200 && strings.Contains(string(b), username)
}

// refusedEverywhere waits until every service refuses token: users (GET
// /api/user), the blog (a write), the gateway's verification of a read and
// the web UI's session; it returns how long that took.
func refusedEverywhere(t *testing.T, base, token, username string) time.Duration {
	t.Helper()
	start := time.Now()
	require.Equal(t, 401, call(t, base, "GET", "/api/user", token, nil).status, "users refuses a revoked token at once")
	require.Eventually(t, func() bool {
		return call(t, base, "POST", "/api/articles", token, article("after revocation "+testenv.Name(""))).status == 401 &&
			call(t, base, "GET", "/api/articles/feed", token, nil).status == 401 &&
			call(t, base, "GET", "/api/profiles/"+username, token, nil).status == 401 &&
			!webSignedIn(t, base, token, username)
	}, revocationBound, 10*time.Millisecond, "every service refuses the token within %v", revocationBound)
	return time.Since(start)
}

// acceptedEverywhere checks that token works on users, the blog and the web.
func acceptedEverywhere(t *testing.T, base, token, username string) {
	t.Helper()
	call(t, base, "GET", "/api/user", token, nil).want(t, 200)
	call(t, base, "POST", "/api/articles", token, article("accepted "+testenv.Name(""))).want(t, 201)
	call(t, base, "GET", "/api/articles/feed", token, nil).want(t, 200)
	require.True(t, webSignedIn(t, base, token, username), "the web UI accepts the session")
}

func TestAbuse_TokenLifecycle_SignOutRevokesEveryToken(t *testing.T) {
	for _, s := range shapes(t) {
		t.Run(s.name, func(t *testing.T) {
			base, _ := s.start(t)
			u := register(t, base, testenv.Name("out"))
			other := login(t, base, u.email, u.password).want(t, 200).token(t) // a second session
			acceptedEverywhere(t, base, u.token, u.username)                   // and in every verifier's cache now
			acceptedEverywhere(t, base, other, u.username)

			call(t, base, "DELETE", "/api/user/session", u.token, nil).want(t, 204)
			took := refusedEverywhere(t, base, u.token, u.username)
			refusedEverywhere(t, base, other, u.username)
			t.Logf("%s: a signed-out token was refused everywhere after %v", s.name, took)
			call(t, base, "DELETE", "/api/user/session", u.token, nil).want(t, 401)

			fresh := login(t, base, u.email, u.password).want(t, 200).token(t)
			acceptedEverywhere(t, base, fresh, u.username)
		})
	}
}

func TestAbuse_TokenLifecycle_PasswordChangeRevokesOlderTokens(t *testing.T) {
	for _, s := range shapes(t) {
		t.Run(s.name, func(t *testing.T) {
			base, _ := s.start(t)
			u := register(t, base, testenv.Name("pw"))
			other := login(t, base, u.email, u.password).want(t, 200).token(t)
			acceptedEverywhere(t, base, other, u.username)

			r := call(t, base, "PUT", "/api/user", u.token, map[string]any{"user": map[string]string{"password": "a new password"}}).want(t, 200)
			fresh := r.token(t)
			require.NotEqual(t, u.token, fresh)
			refusedEverywhere(t, base, u.token, u.username)
			refusedEverywhere(t, base, other, u.username)
			acceptedEverywhere(t, base, fresh, u.username)

			login(t, base, u.email, u.password).want(t, 401)
			login(t, base, u.email, "a new password").want(t, 200)
			// A change that is not the password keeps the token.
			r = call(t, base, "PUT", "/api/user", fresh, map[string]any{"user": map[string]string{"bio": "still me"}}).want(t, 200)
			require.Equal(t, fresh, r.token(t))
		})
	}
}

func TestAbuse_TokenLifecycle_DeletedAccountTokensAreRefused(t *testing.T) {
	for _, s := range shapes(t) {
		t.Run(s.name, func(t *testing.T) {
			base, _ := s.start(t)
			u := register(t, base, testenv.Name("del"))
			fan := register(t, base, testenv.Name("fan"))
			slug := call(t, base, "POST", "/api/articles", u.token, article("Kept after deletion")).want(t, 201).
				body["article"].(map[string]any)["slug"].(string)
			call(t, base, "POST", "/api/profiles/"+u.username+"/follow", fan.token, nil).want(t, 200)
			acceptedEverywhere(t, base, u.token, u.username)

			call(t, base, "DELETE", "/api/user", u.token, nil).want(t, 204)
			refusedEverywhere(t, base, u.token, u.username)
			call(t, base, "POST", "/api/articles/"+slug+"/comments", u.token, map[string]any{"comment": map[string]string{"body": "ghost"}}).
				want(t, 401)
			call(t, base, "GET", "/api/profiles/"+u.username, "", nil).want(t, 404)
			login(t, base, u.email, u.password).want(t, 401)
			// The article stays, under the name it was written with.
			got := call(t, base, "GET", "/api/articles/"+slug, fan.token, nil).want(t, 200).body["article"].(map[string]any)
			require.Equal(t, u.username, got["author"].(map[string]any)["username"])
			require.Eventually(t, func() bool {
				a := call(t, base, "GET", "/api/articles/"+slug, fan.token, nil).body["article"].(map[string]any)
				return a["author"].(map[string]any)["following"] == false
			}, revocationBound, 20*time.Millisecond, "the deleted account's follows are gone from the blog's read model")
			// Nobody else can sign up as the deleted account.
			call(t, base, "POST", "/api/users", "", map[string]any{"user": map[string]string{
				"username": u.username, "email": testenv.Name("x") + "@example.com", "password": "password-x"}}).want(t, 422)
		})
	}
}

func TestAbuse_TokenLifecycle_RenamedUsernameIsNotTakenOver(t *testing.T) {
	for _, s := range shapes(t) {
		t.Run(s.name, func(t *testing.T) {
			base, _ := s.start(t)
			alice := register(t, base, testenv.Name("alice"))
			old := alice.username
			slug := call(t, base, "POST", "/api/articles", alice.token, article("Written before the rename")).want(t, 201).
				body["article"].(map[string]any)["slug"].(string)
			renamed := old + "x"
			call(t, base, "PUT", "/api/user", alice.token, map[string]any{"user": map[string]string{"username": renamed}}).want(t, 200)

			// Nobody can take the old name over: not by signing up, not by renaming.
			r := call(t, base, "POST", "/api/users", "", map[string]any{"user": map[string]string{
				"username": strings.ToUpper(old), "email": testenv.Name("m") + "@example.com", "password": "password-m"}}).want(t, 422)
			require.Contains(t, r.raw, "username has already been taken")
			mallory := register(t, base, testenv.Name("mallory"))
			call(t, base, "PUT", "/api/user", mallory.token, map[string]any{"user": map[string]string{"username": old}}).want(t, 422)

			// Links by the old name lead nowhere; the writing shows the current one.
			call(t, base, "GET", "/api/profiles/"+old, "", nil).want(t, 404)
			require.Eventually(t, func() bool {
				a := call(t, base, "GET", "/api/articles/"+slug, "", nil).body["article"].(map[string]any)
				byOld := call(t, base, "GET", "/api/articles?author="+old, "", nil).body["articlesCount"]
				byNew := call(t, base, "GET", "/api/articles?author="+renamed, "", nil).body["articlesCount"]
				return a["author"].(map[string]any)["username"] == renamed && byOld == float64(0) && byNew == float64(1)
			}, revocationBound, 20*time.Millisecond, "the article is attributed to the current name only")
			// The old token (its name claim says the old name) writes under the current name.
			got := call(t, base, "POST", "/api/articles", alice.token, article("After the rename")).want(t, 201).body["article"].(map[string]any)
			require.Equal(t, renamed, got["author"].(map[string]any)["username"])

			// The holder may take their old name back.
			call(t, base, "PUT", "/api/user", alice.token, map[string]any{"user": map[string]string{"username": old}}).want(t, 200)
		})
	}
}

// The blog's read model of authors and follows can be rebuilt from an empty
// blog database after the users stream no longer holds the events that
// built it (its retention passed): a snapshot of the users service, then
// the events after it.
func TestReadModelRebuildFromEmptyDatabaseAfterRetention(t *testing.T) {
	for _, s := range shapes(t) {
		t.Run(s.name, func(t *testing.T) {
			base, stop := s.start(t)
			a := register(t, base, testenv.Name("a"))
			b := register(t, base, testenv.Name("b"))
			c := register(t, base, testenv.Name("c"))
			gone := register(t, base, testenv.Name("gone"))
			call(t, base, "POST", "/api/profiles/"+b.username+"/follow", a.token, nil).want(t, 200)
			call(t, base, "POST", "/api/profiles/"+c.username+"/follow", a.token, nil).want(t, 200)
			call(t, base, "DELETE", "/api/profiles/"+c.username+"/follow", a.token, nil).want(t, 200)
			call(t, base, "POST", "/api/profiles/"+a.username+"/follow", b.token, nil).want(t, 200)
			call(t, base, "PUT", "/api/user", c.token, map[string]any{"user": map[string]string{"bio": "c's bio"}}).want(t, 200)
			call(t, base, "DELETE", "/api/user", gone.token, nil).want(t, 204)
			stop()

			// Retention passes and the blog's database is lost.
			nsArgs := []string(nil)
			if s.pgURL != "" {
				purgeStream(t, s.natsURL, s.ns)
				db, err := sql.Open("pgx", s.pgURL)
				require.NoError(t, err)
				_, err = db.Exec("DROP SCHEMA blog CASCADE")
				require.NoError(t, err)
				_ = db.Close()
			} else {
				// The embedded NATS runs only inside the process: a fresh
				// namespace is a stream that holds none of the old events.
				nsArgs = []string{"--nats-namespace=" + testenv.Name("later")}
				files, err := filepath.Glob(filepath.Join(s.dir, "blog*"))
				require.NoError(t, err)
				require.NotEmpty(t, files)
				for _, f := range files {
					require.NoError(t, os.RemoveAll(f))
				}
			}

			code, out := runRebuild(t, s, nsArgs...)
			require.Equal(t, 0, code, out)
			require.Contains(t, out, "3 authors, 2 follows")

			// The rebuilt read model, read directly from the blog's database.
			db := openBlogDB(t, s)
			authors := map[string]string{}
			rows, err := db.QueryContext(t.Context(), `SELECT username, COALESCE(bio, '') FROM authors`)
			require.NoError(t, err)
			for rows.Next() {
				var n, bio string
				require.NoError(t, rows.Scan(&n, &bio))
				authors[n] = bio
			}
			require.NoError(t, rows.Close())
			require.Equal(t, map[string]string{a.username: "", b.username: "", c.username: "c's bio"}, authors)
			var follows int
			require.NoError(t, db.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM author_follows WHERE following = $1`, true).Scan(&follows))
			require.Equal(t, 2, follows)
			require.NoError(t, db.Close())

			// The blog runs on it, and events after the snapshot still land.
			base, _ = s.start(t, nsArgs...)
			call(t, base, "POST", "/api/articles", b.token, article("By b after the rebuild")).want(t, 201)
			call(t, base, "POST", "/api/articles", c.token, article("By c after the rebuild")).want(t, 201)
			feed := call(t, base, "GET", "/api/articles/feed", a.token, nil).want(t, 200)
			require.Equal(t, float64(1), feed.body["articlesCount"], "a follows b and not c: %s", feed.raw)
			call(t, base, "POST", "/api/profiles/"+c.username+"/follow", a.token, nil).want(t, 200)
			require.Eventually(t, func() bool {
				return call(t, base, "GET", "/api/articles/feed", a.token, nil).body["articlesCount"] == float64(2)
			}, 30*time.Second, 20*time.Millisecond, "a follow made after the rebuild reaches the feed") // after the replay of every retained event: slower on a busy machine
		})
	}
}

func purgeStream(t *testing.T, natsURL, ns string) {
	t.Helper()
	nc, err := nats.Connect(natsURL)
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	st, err := js.Stream(t.Context(), strings.ToUpper(ns)+"_USERS")
	require.NoError(t, err)
	require.NoError(t, st.Purge(t.Context()))
}

// runRebuild runs `tungsten rebuild-read-model` as the CLI does, in process.
func runRebuild(t *testing.T, s shape, extra ...string) (int, string) {
	t.Helper()
	a, logs := newApp(t, s.dir, append(append([]string{}, s.args...), extra...)...)
	st, err := a.RebuildReadModel(t.Context())
	if err != nil {
		return 1, fmt.Sprintf("%v\n%s", err, logs)
	}
	return 0, fmt.Sprintf("blog read model rebuilt: %d authors, %d follows", st.Authors, st.Follows)
}

func openBlogDB(t *testing.T, s shape) *database.DB {
	t.Helper()
	db, err := database.Open(t.Context(), database.Config{Service: "blog", DataDir: s.dir, PostgresURL: s.pgURL, MaxConns: 2}, nil, nil)
	require.NoError(t, err)
	return db
}
