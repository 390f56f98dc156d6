package app_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"

	"github.com/tungsten-blog/tungsten/internal/app/apptest"
	"github.com/tungsten-blog/tungsten/internal/platform/testenv"
)

// freshPostgres creates a database of its own on the test server (the
// services' schemas have fixed names, so they must not share one) and
// returns its URL; it is dropped after the test.
func freshPostgres(t *testing.T) string {
	t.Helper()
	base := testenv.URL(t, testenv.EnvPostgres)
	admin, err := sql.Open("pgx", base)
	require.NoError(t, err)
	t.Cleanup(func() { _ = admin.Close() })
	name := testenv.Name("life")
	_, err = admin.Exec(`CREATE DATABASE ` + name)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = admin.Exec(`DROP DATABASE ` + name + ` WITH (FORCE)`) })
	return strings.Replace(base, "/postgres?", "/"+name+"?", 1)
}

// Hostile input is a client error on both engines: NUL characters and
// invalid UTF-8 in any text, over-long values, huge or negative numbers in
// limit/offset; and both engines answer alike. (PostgreSQL refuses NUL and
// invalid UTF-8 where SQLite stores them: a NUL in a login email or a
// profile name used to be a 5xx there.)
func TestHostileInputIsAClientErrorOnBothEngines(t *testing.T) {
	t.Parallel()
	statuses := map[string][]int{}
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			args := append([]string{"--drain-delay=0s"}, apptest.OneClientLimits...)
			if engine == "postgres" {
				args = append(args, "--postgres-url="+freshPostgres(t))
			}
			a, _ := newApp(t, t.TempDir(), args...)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- a.Run(ctx, time.Now()) }()
			t.Cleanup(func() { cancel(); <-done })
			select {
			case <-a.Started():
			case err := <-done:
				require.Failf(t, "run failed", "%v", err)
			}
			base := "http://" + a.PublicAddr()
			send := func(method, path, token string, body any) (int, string) {
				var rd io.Reader
				if body != nil {
					b, _ := json.Marshal(body)
					rd = bytes.NewReader(b)
				}
				req, err := http.NewRequest(method, base+path, rd)
				require.NoError(t, err)
				req.Header.Set("Content-Type", "application/json")
				if token != "" {
					req.Header.Set("Authorization", "Token "+token)
				}
				res, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				defer res.Body.Close()
				raw, _ := io.ReadAll(res.Body)
				return res.StatusCode, string(raw)
			}
			code, body := send("POST", "/api/users", "", map[string]any{"user": map[string]string{
				"username": "hostile" + engine, "email": "hostile-" + engine + "@example.com", "password": "longenough"}})
			require.Equal(t, 201, code, body)
			var reg struct {
				User struct{ Token string } `json:"user"`
			}
			require.NoError(t, json.Unmarshal([]byte(body), &reg))
			tok := reg.User.Token
			code, body = send("POST", "/api/articles", tok, map[string]any{"article": map[string]any{"title": "fine", "description": "d", "body": "b"}})
			require.Equal(t, 201, code, body)
			var art struct {
				Article struct{ Slug string } `json:"article"`
			}
			require.NoError(t, json.Unmarshal([]byte(body), &art))

			nul, long, huge := "a\x00b", strings.Repeat("x", 200_000), strings.Repeat("9", 30)
			cases := []struct {
				method, path string
				body         any
			}{
				{"POST", "/api/users", map[string]any{"user": map[string]string{"username": nul, "email": "n@example.com", "password": "longenough"}}},
				{"POST", "/api/users", map[string]any{"user": map[string]string{"username": "nulpass", "email": "np@example.com", "password": "long\x00enough"}}},
				{"POST", "/api/users", map[string]any{"user": map[string]string{"username": long, "email": long + "@example.com", "password": long}}},
				{"POST", "/api/users/login", map[string]any{"user": map[string]string{"email": "a\x00@example.com", "password": "x"}}},
				{"PUT", "/api/user", map[string]any{"user": map[string]string{"bio": nul, "image": "https://x/" + nul}}},
				{"PUT", "/api/user", map[string]any{"user": map[string]string{"bio": long, "image": "https://x/" + long}}},
				{"POST", "/api/articles", map[string]any{"article": map[string]any{"title": nul, "description": nul, "body": nul, "tagList": []string{nul}}}},
				{"POST", "/api/articles", map[string]any{"article": map[string]any{"title": "t", "description": "d", "body": "b", "tagList": []string{long}}}},
				{"POST", "/api/articles", map[string]any{"article": map[string]any{"title": long, "description": long, "body": "b"}}},
				{"PUT", "/api/articles/" + art.Article.Slug, map[string]any{"article": map[string]any{"title": nul}}},
				{"POST", "/api/articles/" + art.Article.Slug + "/comments", map[string]any{"comment": map[string]any{"body": nul}}},
				{"GET", "/api/articles?tag=%00", nil},
				{"GET", "/api/articles?tag=%FF%FE", nil},
				{"GET", "/api/articles?author=%C3%28", nil},
				{"GET", "/api/articles?favorited=a%00b", nil},
				{"GET", "/api/articles?category=%FF", nil},
				{"GET", "/api/articles?q=%FF%00", nil},
				{"GET", "/api/articles?tag=" + strings.Repeat("t", 10_000), nil},
				{"GET", "/api/articles?author=" + strings.Repeat("y", 5000), nil},
				{"GET", "/api/articles?limit=" + huge, nil},
				{"GET", "/api/articles?offset=" + huge, nil},
				{"GET", "/api/articles?offset=9223372036854775807", nil},
				{"GET", "/api/articles?limit=-1&offset=-1", nil},
				{"GET", "/api/articles/feed?limit=" + huge + "&offset=9223372036854775807", nil},
				{"GET", "/api/profiles/%FF", nil},
				{"GET", "/api/profiles/a%00b", nil},
				{"GET", "/api/profiles/" + strings.Repeat("z", 5000), nil},
				{"POST", "/api/profiles/%FF/follow", nil},
				{"GET", "/api/articles/%FF", nil},
				{"GET", "/api/articles/a%00b/comments", nil},
				{"POST", "/api/articles/%FF/favorite", nil},
				{"DELETE", "/api/articles/" + art.Article.Slug + "/comments/" + huge, nil},
			}
			for _, c := range cases {
				path := c.path
				if len(path) > 80 {
					path = path[:80] + "..."
				}
				code, body := send(c.method, c.path, tok, c.body)
				if len(body) > 200 {
					body = body[:200]
				}
				t.Logf("%s %s -> %d %s", c.method, path, code, body)
				statuses[engine] = append(statuses[engine], code)
				require.Less(t, code, 500, fmt.Sprintf("%s %s: %s", c.method, path, body))
				if code >= 400 {
					require.Contains(t, body, `"errors"`)
				}
			}
		})
	}
	require.Equal(t, statuses["sqlite"], statuses["postgres"], "both engines answer the same input the same way")
}

// A database that goes away (its connections terminated, new ones
// refused) is a 503 with Retry-After, not a 500: the request may pass in a
// moment, and it is no bug.
func TestDatabaseOutageIs503WithRetryAfter(t *testing.T) {
	t.Parallel()
	pgURL := freshPostgres(t)
	a, logs := newApp(t, t.TempDir(), "--drain-delay=0s", "--postgres-url="+pgURL)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, time.Now()) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-a.Started():
	case err := <-done:
		require.Failf(t, "run failed", "%v", err)
	}
	base := "http://" + a.PublicAddr()
	res, err := http.Get(base + "/api/profiles/nobody")
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, 404, res.StatusCode)

	admin, err := sql.Open("pgx", testenv.URL(t, testenv.EnvPostgres))
	require.NoError(t, err)
	t.Cleanup(func() { _ = admin.Close() })
	name := pgURL[strings.LastIndex(pgURL, "/")+1 : strings.Index(pgURL, "?")]
	_, err = admin.Exec(`DROP DATABASE ` + name + ` WITH (FORCE)`)
	require.NoError(t, err)

	for range 3 { // a terminated pooled connection, then refused new ones
		res, err := http.Get(base + "/api/profiles/nobody")
		require.NoError(t, err)
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		require.Equal(t, 503, res.StatusCode, "%s\n%s", body, logs)
		require.Equal(t, "1", res.Header.Get("Retry-After"))
		require.Contains(t, string(body), `"errors"`)
		require.NotContains(t, string(body), name, "no internal detail reaches the client")
	}
}
