package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/tungsten-blog/tungsten/internal/platform/authn"
	"github.com/tungsten-blog/tungsten/internal/platform/authn/authntest"
	"github.com/tungsten-blog/tungsten/internal/platform/database"
	"github.com/tungsten-blog/tungsten/internal/platform/httpx"
	"github.com/tungsten-blog/tungsten/internal/platform/testenv"
	"github.com/tungsten-blog/tungsten/internal/users"
)

// env is the real users handler over a fresh SQLite database.
type env struct {
	t   *testing.T
	h   http.Handler
	iss *authntest.Issuer
	db  *database.DB
	svc string // the auth service's token
}

func newEnv(t *testing.T, opts ...func(*users.Config)) *env {
	t.Helper()
	iss := authntest.NewIssuer(t)
	db := testenv.OpenDB(t, database.SQLite, "users", users.Migrations)
	e := &env{t: t, iss: iss, db: db, svc: iss.Service(t, "auth")}
	// Stands in for the auth service's login, which a password change
	// calls: it checks the credentials with this users handler, as auth
	// does, and signs a token of the account's version.
	login := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			User map[string]string `json:"user"`
		}
		_ = json.NewDecoder(r.Body).Decode(&in)
		res := e.do("POST", "/internal/users/credentials", e.svc, in.User)
		if res.status != http.StatusOK {
			w.WriteHeader(res.status)
			_, _ = io.WriteString(w, res.body)
			return
		}
		acc := res.json(t)["user"].(map[string]any)
		c := authntest.Claims(authn.ScopeUser, fmt.Sprint(int64(acc["id"].(float64))), acc["username"].(string))
		c.Version = int64(acc["tokenVersion"].(float64))
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"user": map[string]string{"token": iss.Sign(t, c)}})
	})
	auth := httpx.NewClient(httpx.ClientConfig{Service: "auth", Timeout: 5 * time.Second, Transport: httpx.InProcess{Handler: login},
		Tracer: noop.NewTracerProvider().Tracer("test"), Propagator: propagation.TraceContext{}})
	cfg := users.Config{Argon2Memory: 64, Argon2Iterations: 1, Argon2Parallelism: 1, FollowLimit: 1000, FollowWindow: time.Minute}
	for _, o := range opts {
		o(&cfg)
	}
	s, err := users.New(cfg, users.Deps{DB: db, Verifier: iss.Verifier(), Namespace: "test", Auth: auth})
	require.NoError(t, err)
	e.h = s.Handler()
	return e
}

type response struct {
	status int
	header http.Header
	body   string
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.body), &m), "body %q", r.body)
	return m
}

// errors returns the RealWorld error messages of the response.
func (r response) errors(t *testing.T) []string {
	t.Helper()
	var eb struct {
		Errors struct {
			Body []string `json:"body"`
		} `json:"errors"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.body), &eb), "body %q", r.body)
	return eb.Errors.Body
}

// do sends a request; body is sent as is when it is a string, else as JSON.
func (e *env) do(method, path, token string, body any) response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		require.NoError(e.t, err)
		rd = strings.NewReader(string(data))
	}
	req := httptest.NewRequestWithContext(context.Background(), method, path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Token "+token)
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return response{status: rec.Code, header: rec.Header(), body: rec.Body.String()}
}

// register creates an account through the internal endpoint and returns
// the user's ID and a token for them.
func (e *env) register(username, email, password string) (int64, string) {
	e.t.Helper()
	r := e.do("POST", "/internal/users/accounts", e.svc, map[string]string{"username": username, "email": email, "password": password})
	require.Equal(e.t, http.StatusCreated, r.status, r.body)
	id := int64(r.json(e.t)["user"].(map[string]any)["id"].(float64))
	return id, e.iss.User(e.t, id, username)
}

func (e *env) outbox() []string {
	e.t.Helper()
	rows, err := e.db.QueryContext(context.Background(), `SELECT event_type FROM outbox ORDER BY seq`)
	require.NoError(e.t, err)
	defer rows.Close()
	var types []string
	for rows.Next() {
		var s string
		require.NoError(e.t, rows.Scan(&s))
		types = append(types, s)
	}
	require.NoError(e.t, rows.Err())
	return types
}

func requireError(t *testing.T, r response, status int, msgs ...string) {
	t.Helper()
	require.Equal(t, status, r.status, r.body)
	require.Equal(t, "application/json; charset=utf-8", r.header.Get("Content-Type"))
	require.Equal(t, msgs, r.errors(t))
}

func TestPatterns(t *testing.T) {
	t.Parallel()
	db := testenv.OpenDB(t, database.SQLite, "users", users.Migrations)
	s, err := users.New(users.DefaultConfig(), users.Deps{DB: db, Verifier: authntest.NewIssuer(t).Verifier()})
	require.NoError(t, err)
	require.ElementsMatch(t, []string{
		"GET /api/user", "PUT /api/user", "DELETE /api/user", "DELETE /api/user/session", "GET /api/profiles/{username}",
		"GET /internal/users/snapshot",
		"POST /api/profiles/{username}/follow", "DELETE /api/profiles/{username}/follow",
		"POST /internal/users/accounts", "POST /internal/users/credentials", "GET /internal/users/profiles",
	}, s.Patterns())
}

func TestCreateAccount(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.do("POST", "/internal/users/accounts", e.svc,
		map[string]string{"username": " Jacob ", "email": "Jake@Jake.JAKE", "password": "jakejake"})
	require.Equal(t, http.StatusCreated, r.status, r.body)
	require.Equal(t, "application/json; charset=utf-8", r.header.Get("Content-Type"))
	require.JSONEq(t, `{"user":{"id":1,"username":"Jacob","email":"jake@jake.jake","bio":null,"image":null,"tokenVersion":0}}`, r.body)
	require.Equal(t, []string{"users.user.registered"}, e.outbox())

	t.Run("validation reports every problem", func(t *testing.T) {
		requireError(t, e.do("POST", "/internal/users/accounts", e.svc, map[string]string{}), 422,
			"username can't be blank", "email can't be blank", "password can't be blank")
		requireError(t, e.do("POST", "/internal/users/accounts", e.svc,
			map[string]string{"username": "a b", "email": "nope", "password": "short"}), 422,
			"username is invalid (use letters, digits, '_', '-' and '.')", "email is invalid",
			"password is too short (minimum is 8 characters)")
		requireError(t, e.do("POST", "/internal/users/accounts", e.svc,
			map[string]string{"username": strings.Repeat("u", 65), "email": "u@x.y", "password": strings.Repeat("p", 129)}), 422,
			"username is too long (maximum is 64 characters)", "password is too long (maximum is 128 characters)")
	})
	t.Run("duplicates are case-insensitive", func(t *testing.T) {
		requireError(t, e.do("POST", "/internal/users/accounts", e.svc,
			map[string]string{"username": "JACOB", "email": "other@x.y", "password": "password1"}), 422,
			"username has already been taken")
		requireError(t, e.do("POST", "/internal/users/accounts", e.svc,
			map[string]string{"username": "other", "email": "JAKE@jake.jake", "password": "password1"}), 422,
			"email has already been taken")
		requireError(t, e.do("POST", "/internal/users/accounts", e.svc,
			map[string]string{"username": "jacob", "email": "jake@jake.jake", "password": "password1"}), 422,
			"username has already been taken", "email has already been taken")
	})
	t.Run("malformed bodies", func(t *testing.T) {
		requireError(t, e.do("POST", "/internal/users/accounts", e.svc, `{"username":`), 422, "body is not valid JSON")
		requireError(t, e.do("POST", "/internal/users/accounts", e.svc, ``), 422, "body can't be empty")
		requireError(t, e.do("POST", "/internal/users/accounts", e.svc, `{"username":1}`), 422, "username must be a string")
		requireError(t, e.do("POST", "/internal/users/accounts", e.svc, `[]`), 422, "body has the wrong shape")
	})
	require.Equal(t, []string{"users.user.registered"}, e.outbox(), "failed registrations publish nothing")
}

func TestInternalEndpointsRequireTheAuthService(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id, userToken := e.register("jake", "jake@x.y", "password1")
	_ = id
	body := map[string]string{"username": "x", "email": "x@x.y", "password": "password1"}
	for _, path := range []string{"/internal/users/accounts", "/internal/users/credentials"} {
		t.Run(path, func(t *testing.T) {
			requireError(t, e.do("POST", path, "", body), 401, "service authentication required")
			requireError(t, e.do("POST", path, userToken, body), 403, "caller may not use this endpoint")
			requireError(t, e.do("POST", path, e.iss.Service(t, "blog"), body), 403, "caller may not use this endpoint")
			requireError(t, e.do("POST", path, "garbage", body), 401, "token is invalid or expired")
		})
	}
}

func TestCheckCredentials(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id, _ := e.register("jake", "jake@x.y", "password1")

	r := e.do("POST", "/internal/users/credentials", e.svc, map[string]string{"email": " JAKE@x.y", "password": "password1"})
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.JSONEq(t, fmt.Sprintf(`{"user":{"id":%d,"username":"jake","email":"jake@x.y","bio":null,"image":null,"tokenVersion":0}}`, id), r.body)

	requireError(t, e.do("POST", "/internal/users/credentials", e.svc, map[string]string{"email": "jake@x.y", "password": "password2"}),
		401, "email or password is invalid")
	requireError(t, e.do("POST", "/internal/users/credentials", e.svc, map[string]string{"email": "nobody@x.y", "password": "password1"}),
		401, "email or password is invalid")
	requireError(t, e.do("POST", "/internal/users/credentials", e.svc, map[string]string{}),
		422, "email can't be blank", "password can't be blank")
	requireError(t, e.do("POST", "/internal/users/credentials", e.svc, `{`), 422, "body is not valid JSON")
}

func TestCurrentUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id, token := e.register("jake", "jake@x.y", "password1")

	r := e.do("GET", "/api/user", token, nil)
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.JSONEq(t, fmt.Sprintf(`{"user":{"email":"jake@x.y","token":%q,"username":"jake","bio":null,"image":null}}`, token), r.body)

	expired := authntest.Claims(authn.ScopeUser, fmt.Sprint(id), "jake")
	expired.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-time.Hour))
	expired.IssuedAt = jwt.NewNumericDate(time.Now().Add(-2 * time.Hour))
	other := authntest.NewIssuer(t)
	other.KID = "other-key"

	tests := []struct {
		name, header string
		msg          string
	}{
		{"no token", "", "authentication required"},
		{"garbage token", "Token garbage", "token is invalid or expired"},
		{"wrong scheme", "Basic " + token, `Authorization header must be "Token <jwt>"`},
		{"expired", "Token " + e.iss.Sign(t, expired), "token is invalid or expired"},
		{"unknown key", "Token " + other.User(t, id, "jake"), "token is invalid or expired"},
		{"service token", "Token " + e.svc, "authentication required"},
		{"account gone", "Token " + e.iss.User(t, 999, "ghost"), "the account of this token no longer exists"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequestWithContext(context.Background(), "GET", "/api/user", nil)
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			rec := httptest.NewRecorder()
			e.h.ServeHTTP(rec, req)
			requireError(t, response{status: rec.Code, header: rec.Header(), body: rec.Body.String()}, 401, tt.msg)
			require.NotEmpty(t, rec.Header().Get("WWW-Authenticate"))
		})
	}
	t.Run("Bearer is accepted too", func(t *testing.T) {
		req := httptest.NewRequestWithContext(context.Background(), "GET", "/api/user", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		require.Equal(t, http.StatusOK, rec.Code)
	})
}

func TestUpdateUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, token := e.register("jake", "jake@x.y", "password1")
	e.register("bob", "bob@x.y", "password1")
	events := len(e.outbox())

	t.Run("auth required", func(t *testing.T) {
		requireError(t, e.do("PUT", "/api/user", "", map[string]any{"user": map[string]any{"bio": "x"}}), 401, "authentication required")
		requireError(t, e.do("PUT", "/api/user", "nope", map[string]any{"user": map[string]any{"bio": "x"}}), 401, "token is invalid or expired")
	})
	t.Run("update every field", func(t *testing.T) {
		r := e.do("PUT", "/api/user", token, map[string]any{"user": map[string]any{
			"email": "Jacob@X.Y", "username": "Jacob", "password": "newpassword", "bio": "I like to skateboard", "image": "https://i.stack.imgur.com/xHWG8.jpg",
		}})
		require.Equal(t, http.StatusOK, r.status, r.body)
		fresh := r.json(t)["user"].(map[string]any)["token"].(string)
		require.NotEqual(t, token, fresh, "a new password comes with a new token")
		require.JSONEq(t, fmt.Sprintf(`{"user":{"email":"jacob@x.y","token":%q,"username":"Jacob","bio":"I like to skateboard","image":"https://i.stack.imgur.com/xHWG8.jpg"}}`, fresh), r.body)
		events += 2
		require.Len(t, e.outbox(), events)
		require.Equal(t, []string{"users.tokens.revoked", "users.user.updated"}, e.outbox()[events-2:])
		requireError(t, e.do("GET", "/api/user", token, nil), 401, "token has been revoked: sign in again")
		token = fresh

		r = e.do("GET", "/api/user", token, nil)
		require.Equal(t, "Jacob", r.json(t)["user"].(map[string]any)["username"])
		requireError(t, e.do("POST", "/internal/users/credentials", e.svc, map[string]string{"email": "jacob@x.y", "password": "password1"}),
			401, "email or password is invalid")
		r = e.do("POST", "/internal/users/credentials", e.svc, map[string]string{"email": "jacob@x.y", "password": "newpassword"})
		require.Equal(t, http.StatusOK, r.status, "the new password works")
	})
	t.Run("null and empty clear bio and image", func(t *testing.T) {
		r := e.do("PUT", "/api/user", token, `{"user":{"bio":null,"image":""}}`)
		require.Equal(t, http.StatusOK, r.status, r.body)
		require.Contains(t, r.body, `"bio":null`)
		require.Contains(t, r.body, `"image":null`)
		events++
		require.Len(t, e.outbox(), events)
	})
	t.Run("no change writes nothing", func(t *testing.T) {
		r := e.do("PUT", "/api/user", token, `{"user":{"username":"Jacob","email":null,"password":"","bio":null}}`)
		require.Equal(t, http.StatusOK, r.status, r.body)
		require.Len(t, e.outbox(), events, "nothing changed, nothing published")
	})
	t.Run("private changes publish nothing", func(t *testing.T) {
		r := e.do("PUT", "/api/user", token, `{"user":{"email":"jacob2@x.y"}}`)
		require.Equal(t, http.StatusOK, r.status, r.body)
		require.Len(t, e.outbox(), events)
	})
	t.Run("validation reports every problem", func(t *testing.T) {
		requireError(t, e.do("PUT", "/api/user", token, map[string]any{"user": map[string]any{
			"email": "nope", "username": "", "password": "short", "bio": strings.Repeat("b", 4001), "image": "javascript:alert(1)",
		}}), 422,
			"username can't be blank", "email is invalid", "password is too short (minimum is 8 characters)",
			"bio is too long (maximum is 4000 characters)", "image is invalid (use an http or https URL)")
	})
	t.Run("taken username and email", func(t *testing.T) {
		requireError(t, e.do("PUT", "/api/user", token, `{"user":{"username":"BOB"}}`), 422, "username has already been taken")
		requireError(t, e.do("PUT", "/api/user", token, `{"user":{"email":"bob@x.y"}}`), 422, "email has already been taken")
		requireError(t, e.do("PUT", "/api/user", token, `{"user":{"username":"bob","email":"BOB@x.y"}}`), 422,
			"username has already been taken", "email has already been taken")
	})
	t.Run("bad bodies", func(t *testing.T) {
		requireError(t, e.do("PUT", "/api/user", token, `{}`), 422, "user can't be blank")
		requireError(t, e.do("PUT", "/api/user", token, `{"user":null}`), 422, "user can't be blank")
		requireError(t, e.do("PUT", "/api/user", token, `{"user":`), 422, "body is not valid JSON")
		requireError(t, e.do("PUT", "/api/user", token, `{"user":{"bio":5}}`), 422, "user.bio must be a string")
		requireError(t, e.do("PUT", "/api/user", token, `{"user":"x"}`), 422, "user must be an object")
		requireError(t, e.do("PUT", "/api/user", token, `{"user":{}} {}`), 422, "body must hold a single JSON object")
	})
	require.Len(t, e.outbox(), events, "failed updates publish nothing")
}

func TestProfile(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, jake := e.register("jake", "jake@x.y", "password1")
	e.register("Zoë", "zoe@x.y", "password1")

	r := e.do("GET", "/api/profiles/jake", "", nil)
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.JSONEq(t, `{"profile":{"username":"jake","bio":null,"image":null,"following":false}}`, r.body)

	r = e.do("GET", "/api/profiles/"+url.PathEscape("ZOË"), jake, nil)
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.JSONEq(t, `{"profile":{"username":"Zoë","bio":null,"image":null,"following":false}}`, r.body)

	requireError(t, e.do("GET", "/api/profiles/nobody", "", nil), 404, "profile not found")
	requireError(t, e.do("GET", "/api/profiles/jake", "garbage", nil), 401, "token is invalid or expired")
}

func TestFollow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, jake := e.register("jake", "jake@x.y", "password1")
	_, bob := e.register("bob", "bob@x.y", "password1")
	base := len(e.outbox())

	requireError(t, e.do("POST", "/api/profiles/bob/follow", "", nil), 401, "authentication required")
	requireError(t, e.do("DELETE", "/api/profiles/bob/follow", "", nil), 401, "authentication required")
	requireError(t, e.do("POST", "/api/profiles/bob/follow", e.svc, nil), 401, "authentication required")
	requireError(t, e.do("POST", "/api/profiles/nobody/follow", jake, nil), 404, "profile not found")
	requireError(t, e.do("DELETE", "/api/profiles/nobody/follow", jake, nil), 404, "profile not found")
	requireError(t, e.do("POST", "/api/profiles/jake/follow", jake, nil), 422, "you cannot follow yourself")
	requireError(t, e.do("POST", "/api/profiles/JAKE/follow", jake, nil), 422, "you cannot follow yourself")
	requireError(t, e.do("POST", "/api/profiles/bob/follow", e.iss.User(t, 999, "ghost"), nil), 401,
		"the account of this token no longer exists")

	want := func(following bool) string {
		return fmt.Sprintf(`{"profile":{"username":"bob","bio":null,"image":null,"following":%t}}`, following)
	}
	for range 2 {
		r := e.do("POST", "/api/profiles/Bob/follow", jake, nil)
		require.Equal(t, http.StatusOK, r.status, r.body)
		require.JSONEq(t, want(true), r.body)
	}
	require.JSONEq(t, want(true), e.do("GET", "/api/profiles/bob", jake, nil).body)
	require.JSONEq(t, want(false), e.do("GET", "/api/profiles/bob", "", nil).body)
	require.JSONEq(t, want(false), e.do("GET", "/api/profiles/bob", bob, nil).body)
	require.JSONEq(t, `{"profile":{"username":"jake","bio":null,"image":null,"following":false}}`,
		e.do("GET", "/api/profiles/jake", bob, nil).body, "following is directional")

	for range 2 {
		r := e.do("DELETE", "/api/profiles/bob/follow", jake, nil)
		require.Equal(t, http.StatusOK, r.status, r.body)
		require.JSONEq(t, want(false), r.body)
	}
	require.JSONEq(t, want(false), e.do("GET", "/api/profiles/bob", jake, nil).body)
	r := e.do("DELETE", "/api/profiles/jake/follow", jake, nil)
	require.Equal(t, http.StatusOK, r.status, "unfollowing yourself is a harmless no-op")

	require.Equal(t, []string{"users.follow.created", "users.follow.deleted"}, e.outbox()[base:],
		"one event per actual change, none for repeats")
}

func TestLookupProfiles(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	jakeID, jake := e.register("jake", "jake@x.y", "password1")
	bobID, _ := e.register("Bob", "bob@x.y", "password1")
	require.Equal(t, 200, e.do("PUT", "/api/user", jake, `{"user":{"bio":"hi","image":"https://x.y/j.png"}}`).status)

	r := e.do("GET", fmt.Sprintf("/internal/users/profiles?id=%d&id=%d&id=999&username=bob&username=nobody", jakeID, jakeID), "", nil)
	require.Equal(t, http.StatusOK, r.status, r.body)
	var out struct {
		Profiles []map[string]any `json:"profiles"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.body), &out))
	require.Len(t, out.Profiles, 2)
	require.Equal(t, float64(jakeID), out.Profiles[0]["id"])
	require.Equal(t, "jake", out.Profiles[0]["username"])
	require.Equal(t, "hi", out.Profiles[0]["bio"])
	require.Equal(t, "https://x.y/j.png", out.Profiles[0]["image"])
	require.Positive(t, out.Profiles[0]["updatedAt"])
	require.Equal(t, float64(bobID), out.Profiles[1]["id"])
	require.Nil(t, out.Profiles[1]["bio"])
	require.Contains(t, r.body, `"image":null`)
	keys := make([]string, 0, 5)
	for k := range out.Profiles[1] {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	require.Equal(t, []string{"bio", "id", "image", "updatedAt", "username"}, keys, "public data only: no email")

	r = e.do("GET", "/internal/users/profiles", "", nil)
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.JSONEq(t, `{"profiles":[]}`, r.body)

	for _, bad := range []string{"abc", "0", "-1", "1.5", "99999999999999999999"} {
		requireError(t, e.do("GET", "/internal/users/profiles?id="+bad, "", nil), 422, "id must be a positive integer")
	}
	q := url.Values{}
	for i := range 101 {
		q.Add("id", fmt.Sprint(i+1))
	}
	requireError(t, e.do("GET", "/internal/users/profiles?"+q.Encode(), "", nil), 422, "at most 100 ids and usernames per lookup")
	q.Del("id")
	for i := range 100 {
		q.Add("id", fmt.Sprint(i+1))
	}
	require.Equal(t, http.StatusOK, e.do("GET", "/internal/users/profiles?"+q.Encode(), "", nil).status, "exactly 100 is fine")
}
