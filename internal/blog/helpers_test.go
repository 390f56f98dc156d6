package blog_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/tungsten-blog/tungsten/internal/blog"
	"github.com/tungsten-blog/tungsten/internal/platform/authn"
	"github.com/tungsten-blog/tungsten/internal/platform/cache"
	"github.com/tungsten-blog/tungsten/internal/platform/database"
	"github.com/tungsten-blog/tungsten/internal/platform/httpx"
	"github.com/tungsten-blog/tungsten/internal/platform/testenv"
)

// tokens signs test tokens the way the auth service does (EdDSA, kid,
// iss/aud/sub/name/scope claims).
type tokens struct {
	priv     ed25519.PrivateKey
	verifier *authn.Verifier
	issued   func(id int64, username string) // the account exists from now on
}

func newTokens(t testing.TB) *tokens {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	set := authn.JWKS{Keys: []authn.JWK{{Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(pub),
		Kid: "test-key", Alg: "EdDSA", Use: "sig"}}}
	v := authn.NewVerifier(func(context.Context) (authn.JWKS, error) { return set, nil })
	return &tokens{priv: priv, verifier: v}
}

func (tk *tokens) user(t testing.TB, id int64, username string) string {
	t.Helper()
	if tk.issued != nil {
		tk.issued(id, username)
	}
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, authn.Claims{
		Username: username, Scope: authn.ScopeUser,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: authn.Issuer, Audience: jwt.ClaimStrings{authn.Audience}, Subject: strconv.FormatInt(id, 10),
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)),
		},
	})
	tok.Header["kid"] = "test-key"
	s, err := tok.SignedString(tk.priv)
	require.NoError(t, err)
	return s
}

// usersStub stands in for the users service's internal profile lookup: a
// test double of a remote HTTP API, serving profiles from a map.
type usersStub struct {
	srv   *httptest.Server
	mu    sync.Mutex
	users map[int64]map[string]any
	calls int
	hook  func() // runs on every lookup, before the answer
}

func newUsersStub(t testing.TB) *usersStub {
	u := &usersStub{users: map[int64]map[string]any{}}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/internal/users/profiles" {
			http.NotFound(w, r)
			return
		}
		u.mu.Lock()
		defer u.mu.Unlock()
		u.calls++
		if u.hook != nil {
			u.hook()
		}
		q := r.URL.Query()
		out := []map[string]any{}
		for _, p := range u.users {
			id := strconv.FormatInt(p["id"].(int64), 10)
			name := strings.ToLower(p["username"].(string))
			for _, want := range q["id"] {
				if want == id {
					out = append(out, p)
				}
			}
			for _, want := range q["username"] {
				if strings.ToLower(want) == name {
					out = append(out, p)
				}
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"profiles": out})
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *usersStub) add(id int64, username, bio string, updatedAt int64) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.users[id] = map[string]any{"id": id, "username": username, "bio": bio, "image": nil, "updatedAt": updatedAt}
}

// ensure adds the account unless the stub knows it (a token's account
// exists; the blog refuses writes by accounts users does not know).
func (u *usersStub) ensure(id int64, username string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if _, ok := u.users[id]; !ok {
		u.users[id] = map[string]any{"id": id, "username": username, "bio": nil, "image": nil, "updatedAt": 1}
	}
}

// remove deletes the account, as a deleted account is gone from users.
func (u *usersStub) remove(id int64) {
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.users, id)
}

func (u *usersStub) callCount() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.calls
}

// testService is the blog over a real SQLite database, serving its real
// handler; users is the profile stub.
type testService struct {
	t      testing.TB
	svc    *blog.Service
	db     *database.DB
	tokens *tokens
	users  *usersStub
	h      http.Handler
}

type option func(*blog.Config, *blog.Deps)

func withCache(c cache.Cache) option { return func(_ *blog.Config, d *blog.Deps) { d.Cache = c } }

// withStaleness sets how long a cached read may outlive a write (0: strict).
func withStaleness(d time.Duration) option {
	return func(c *blog.Config, _ *blog.Deps) { c.CacheStaleness = d }
}

// withClock makes clock the blog's clock (the age of cache entries).
func withClock(clock *fakeClock) option {
	return func(_ *blog.Config, d *blog.Deps) { d.Now = clock.Now }
}

// fakeClock is a clock that moves only when told to.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Now()} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newTestService(t testing.TB, opts ...option) *testService {
	t.Helper()
	return newTestServiceOn(t, database.SQLite, opts...)
}

// newTestServiceOn is newTestService over a fresh database of the dialect.
func newTestServiceOn(t testing.TB, dialect database.Dialect, opts ...option) *testService {
	t.Helper()
	ts := &testService{t: t, tokens: newTokens(t), users: newUsersStub(t)}
	ts.tokens.issued = ts.users.ensure
	ts.db = testenv.OpenDB(t, dialect, "blog", blog.Migrations)
	prop := propagation.TraceContext{}
	tracer := noop.NewTracerProvider().Tracer("test")
	cfg := blog.DefaultConfig()
	deps := blog.Deps{
		DB: ts.db, Verifier: ts.tokens.verifier, Tracer: tracer, Propagator: prop,
		Users: httpx.NewClient(httpx.ClientConfig{Service: "users", BaseURL: ts.users.srv.URL, Timeout: 2 * time.Second,
			Tracer: tracer, Propagator: prop}),
	}
	for _, o := range opts {
		o(&cfg, &deps)
	}
	svc, err := blog.New(cfg, deps)
	require.NoError(t, err)
	ts.svc, ts.h = svc, svc.Handler()
	return ts
}

type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (ts *testService) do(method, path, token string, body any) response {
	ts.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		require.NoError(ts.t, err)
		rd = bytes.NewReader(buf)
	}
	req := httptest.NewRequest(method, path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Token "+token)
	}
	rec := httptest.NewRecorder()
	ts.h.ServeHTTP(rec, req)
	res := response{status: rec.Code, header: rec.Header(), raw: rec.Body.String()}
	if rec.Body.Len() > 0 {
		require.NoError(ts.t, json.Unmarshal(rec.Body.Bytes(), &res.body), "%s %s: answer is not a JSON object: %q", method, path, rec.Body.String())
	}
	return res
}

// want fails unless the response has the status.
func (r response) want(t testing.TB, status int) response {
	t.Helper()
	require.Equal(t, status, r.status, "status; body %s", r.raw)
	return r
}

// wantError fails unless the response is status with exactly msgs.
func (r response) wantError(t testing.TB, status int, msgs ...string) {
	t.Helper()
	r.want(t, status)
	require.Equal(t, msgs, errorMessages(r), "errors")
}

func errorMessages(r response) []string {
	var out []string
	errsObj, _ := r.body["errors"].(map[string]any)
	list, _ := errsObj["body"].([]any)
	for _, m := range list {
		out = append(out, m.(string))
	}
	return out
}

func (r response) article() map[string]any {
	a, _ := r.body["article"].(map[string]any)
	return a
}

func (r response) articles() []map[string]any {
	list, _ := r.body["articles"].([]any)
	out := make([]map[string]any, len(list))
	for i, a := range list {
		out[i] = a.(map[string]any)
	}
	return out
}

func (r response) count() int {
	n, _ := r.body["articlesCount"].(float64)
	return int(n)
}

func slugsOf(list []map[string]any) []string {
	out := make([]string, len(list))
	for i, a := range list {
		out[i] = a["slug"].(string)
	}
	return out
}

func newArticle(title string, tags ...string) map[string]any {
	if tags == nil {
		tags = []string{}
	}
	return map[string]any{"article": map[string]any{"title": title, "description": "About " + title,
		"body": "Body of " + title, "tagList": tags}}
}

// create posts an article and returns its slug.
func (ts *testService) create(token, title string, tags ...string) string {
	ts.t.Helper()
	r := ts.do("POST", "/api/articles", token, newArticle(title, tags...)).want(ts.t, http.StatusCreated)
	return r.article()["slug"].(string)
}

var isoMillis = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

func q(path string, kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return path + "?" + v.Encode()
}
