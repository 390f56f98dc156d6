package api_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tungsten-blog/tungsten/internal/platform/authn"
	"github.com/tungsten-blog/tungsten/internal/platform/authn/authntest"
)

func TestRegistrationErrors(t *testing.T) {
	t.Parallel()
	existing := register(t)
	tests := []struct {
		name, body string
		status     int
		want       []string
	}{
		{"blank fields", `{"user":{}}`, 422, []string{"username", "email", "password"}},
		{"no wrapper", `{"username":"x"}`, 422, []string{"user"}},
		{"bad email", `{"user":{"username":"` + unique("u") + `","email":"nope","password":"longenough"}}`, 422, []string{"email"}},
		{"short password", `{"user":{"username":"` + unique("u") + `","email":"` + unique("e") + `@x.io","password":"short"}}`, 422, []string{"password"}},
		{"taken username", `{"user":{"username":"` + existing.Username + `","email":"` + unique("e") + `@x.io","password":"longenough"}}`, 422, []string{"username"}},
		{"taken username other case", `{"user":{"username":"` + strings.ToUpper(existing.Username) + `","email":"` + unique("e") + `@x.io","password":"longenough"}}`, 422, []string{"username"}},
		{"taken email other case", `{"user":{"username":"` + unique("u") + `","email":"` + strings.ToUpper(existing.Email) + `","password":"longenough"}}`, 422, []string{"email"}},
		{"malformed", `{"user":{"username":`, 422, []string{"JSON"}},
		{"wrong types", `{"user":{"username":5,"email":[],"password":{}}}`, 422, []string{"must be"}},
		{"empty body", ``, 422, []string{"empty"}},
		{"oversized", `{"user":{"username":"` + strings.Repeat("a", 2<<20) + `"}}`, 413, []string{"large"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := call(t, "POST", "/api/users", "", tt.body).expect(t, tt.status)
			for _, w := range tt.want {
				require.Contains(t, r.messages(), w)
			}
		})
	}
}

func TestRegisterAndLogin(t *testing.T) {
	t.Parallel()
	u := register(t)
	r := call(t, "POST", "/api/users/login", "", map[string]any{"user": map[string]string{"email": strings.ToUpper(u.Email), "password": u.Password}}).expect(t, 200)
	got := r.obj("user")
	require.Equal(t, u.Username, got["username"])
	require.Equal(t, u.Email, got["email"])
	require.Contains(t, got, "bio")
	require.Contains(t, got, "image")
	require.Equal(t, "application/json; charset=utf-8", r.Header.Get("Content-Type"))

	call(t, "POST", "/api/users/login", "", map[string]any{"user": map[string]string{"email": u.Email, "password": "wrong password"}}).expect(t, 401)
	r = call(t, "POST", "/api/users/login", "", map[string]any{"user": map[string]string{"email": unique("n") + "@example.com", "password": "whatever1"}}).expect(t, 401)
	require.Equal(t, "email or password is invalid", r.messages(), "unknown accounts are not revealed")
	r = call(t, "POST", "/api/users/login", "", map[string]any{"user": map[string]string{}}).expect(t, 422)
	require.Contains(t, r.messages(), "email can't be blank")
}

func TestLoginIsThrottledPerAccount(t *testing.T) {
	t.Parallel()
	u := register(t)
	var last resp
	for range 11 {
		last = call(t, "POST", "/api/users/login", "", map[string]any{"user": map[string]string{"email": u.Email, "password": "wrong password"}})
		if last.Status == 429 {
			break
		}
		last.expect(t, 401)
	}
	last.expect(t, 429)
	require.NotEmpty(t, last.Header.Get("Retry-After"))
	// Even the right password waits now.
	call(t, "POST", "/api/users/login", "", map[string]any{"user": map[string]string{"email": u.Email, "password": u.Password}}).expect(t, 429)
}

func TestCurrentUserAndUpdate(t *testing.T) {
	t.Parallel()
	u := register(t)
	call(t, "GET", "/api/user", "", nil).expect(t, 401)
	r := call(t, "GET", "/api/user", u.Token, nil).expect(t, 200)
	require.Equal(t, u.Token, r.obj("user")["token"])
	require.Nil(t, r.obj("user")["bio"])

	r = call(t, "PUT", "/api/user", u.Token, map[string]any{"user": map[string]any{"bio": "I like <b>tea</b>", "image": "https://example.com/me.png"}}).expect(t, 200)
	require.Equal(t, "I like <b>tea</b>", r.obj("user")["bio"], "stored as sent; escaping is the renderer's job")
	require.Equal(t, "https://example.com/me.png", r.obj("user")["image"])

	r = call(t, "PUT", "/api/user", u.Token, map[string]any{"user": map[string]any{"image": "javascript:alert(1)"}}).expect(t, 422)
	require.Contains(t, r.messages(), "image")
	r = call(t, "PUT", "/api/user", u.Token, map[string]any{"user": map[string]any{"email": "not-an-email"}}).expect(t, 422)
	require.Contains(t, r.messages(), "email")
	other := register(t)
	r = call(t, "PUT", "/api/user", u.Token, map[string]any{"user": map[string]any{"username": other.Username}}).expect(t, 422)
	require.Contains(t, r.messages(), "username")

	// Password change: the old password stops working, the new one works;
	// the tokens issued before are revoked and the answer carries a new one
	// (ADR 0011).
	r = call(t, "PUT", "/api/user", u.Token, map[string]any{"user": map[string]any{"password": "a brand new secret"}}).expect(t, 200)
	fresh, _ := r.obj("user")["token"].(string)
	require.NotEmpty(t, fresh)
	require.NotEqual(t, u.Token, fresh)
	call(t, "GET", "/api/user", u.Token, nil).expect(t, 401)
	u.Token = fresh
	call(t, "POST", "/api/users/login", "", map[string]any{"user": map[string]string{"email": u.Email, "password": u.Password}}).expect(t, 401)
	call(t, "POST", "/api/users/login", "", map[string]any{"user": map[string]string{"email": u.Email, "password": "a brand new secret"}}).expect(t, 200)

	// Renaming keeps the token valid.
	newName := unique("renamed")
	call(t, "PUT", "/api/user", u.Token, map[string]any{"user": map[string]any{"username": newName}}).expect(t, 200)
	r = call(t, "GET", "/api/user", u.Token, nil).expect(t, 200)
	require.Equal(t, newName, r.obj("user")["username"])
}

func TestForgedTokensAreRejected(t *testing.T) {
	t.Parallel()
	u := register(t)
	parts := strings.Split(u.Token, ".")
	require.Len(t, parts, 3)
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	foreign := authntest.NewIssuer(t) // a key the auth service never published
	foreignTok := foreign.Sign(t, authntest.Claims(authn.ScopeUser, "1", "admin"))
	svcTok := foreign.Service(t, "auth")

	for name, tok := range map[string]string{
		"alg none":          none + "." + parts[1] + ".",
		"tampered payload":  parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"1","scope":"user"}`)) + "." + parts[2],
		"foreign key":       foreignTok,
		"foreign svc token": svcTok,
		"garbage":           "abc.def.ghi",
	} {
		r := call(t, "GET", "/api/user", tok, nil)
		require.Equal(t, 401, r.Status, name)
		r.expect(t, 401)
		r = call(t, "GET", "/api/articles", tok, nil)
		require.Equal(t, 401, r.Status, "%s: an invalid token is refused even where auth is optional", name)
	}
	call(t, "GET", "/api/user", "", nil, "Authorization", "Bearer").expect(t, 401)
}

func TestProfilesAndFollows(t *testing.T) {
	t.Parallel()
	a, b := register(t), register(t)
	call(t, "GET", "/api/profiles/"+unique("nobody"), "", nil).expect(t, 404)
	r := call(t, "GET", "/api/profiles/"+b.Username, "", nil).expect(t, 200)
	require.Equal(t, false, r.obj("profile")["following"])

	call(t, "POST", "/api/profiles/"+b.Username+"/follow", "", nil).expect(t, 401)
	call(t, "POST", "/api/profiles/"+a.Username+"/follow", a.Token, nil).expect(t, 422)
	call(t, "POST", "/api/profiles/"+unique("nobody")+"/follow", a.Token, nil).expect(t, 404)
	for range 2 { // idempotent
		r = call(t, "POST", "/api/profiles/"+b.Username+"/follow", a.Token, nil).expect(t, 200)
		require.Equal(t, true, r.obj("profile")["following"])
	}
	r = call(t, "GET", "/api/profiles/"+b.Username, a.Token, nil).expect(t, 200)
	require.Equal(t, true, r.obj("profile")["following"])
	r = call(t, "GET", "/api/profiles/"+b.Username, b.Token, nil).expect(t, 200)
	require.Equal(t, false, r.obj("profile")["following"], "following is per viewer")
	for range 2 {
		r = call(t, "DELETE", "/api/profiles/"+b.Username+"/follow", a.Token, nil).expect(t, 200)
		require.Equal(t, false, r.obj("profile")["following"])
	}
}

func TestInternalEndpointsAreNotPublic(t *testing.T) {
	t.Parallel()
	name := unique("sneaky")
	r := call(t, "POST", "/internal/users/accounts", "", map[string]string{"username": name, "email": name + "@x.io", "password": "longenough"})
	require.Equal(t, 404, r.Status)
	call(t, "GET", "/api/profiles/"+name, "", nil).expect(t, 404)
	call(t, "GET", "/api/internal/users/profiles?id=1", "", nil).expect(t, 404)
}

func TestCORSAndUnknownRoutes(t *testing.T) {
	t.Parallel()
	r := call(t, "OPTIONS", "/api/articles", "", nil, "Origin", "https://client.example", "Access-Control-Request-Method", "POST",
		"Access-Control-Request-Headers", "Authorization, Content-Type")
	require.Equal(t, 204, r.Status)
	require.Equal(t, "*", r.Header.Get("Access-Control-Allow-Origin"))
	require.Contains(t, r.Header.Get("Access-Control-Allow-Headers"), "Authorization")
	require.Contains(t, r.Header.Get("Access-Control-Allow-Methods"), "PUT")

	r = call(t, "GET", "/api/tags", "", nil, "Origin", "https://client.example").expect(t, 200)
	require.Equal(t, "*", r.Header.Get("Access-Control-Allow-Origin"))
	require.NotEmpty(t, r.Header.Get("X-Request-Id"))

	call(t, "GET", "/api/nope", "", nil).expect(t, 404)
	call(t, "PATCH", "/api/articles", "", nil).expect(t, 404)
}

// Sign-out and account deletion (extensions, ADR 0011): the users service
// refuses the revoked tokens at once; signing in again works after a
// sign-out and not after a deletion.
func TestAbuse_TokenLifecycle_SignOutAndAccountDeletion(t *testing.T) {
	t.Parallel()
	u := register(t)
	call(t, "DELETE", "/api/user/session", "", nil).expect(t, 401)
	call(t, "DELETE", "/api/user/session", u.Token, nil).expect(t, 204)
	call(t, "GET", "/api/user", u.Token, nil).expect(t, 401)
	call(t, "DELETE", "/api/user/session", u.Token, nil).expect(t, 401)
	r := call(t, "POST", "/api/users/login", "", map[string]any{"user": map[string]string{"email": u.Email, "password": u.Password}}).expect(t, 200)
	fresh, _ := r.obj("user")["token"].(string)
	call(t, "GET", "/api/user", fresh, nil).expect(t, 200)

	call(t, "DELETE", "/api/user", fresh, nil).expect(t, 204)
	call(t, "GET", "/api/user", fresh, nil).expect(t, 401)
	call(t, "GET", "/api/profiles/"+u.Username, "", nil).expect(t, 404)
	call(t, "POST", "/api/users/login", "", map[string]any{"user": map[string]string{"email": u.Email, "password": u.Password}}).expect(t, 401)
	// The name stays reserved for the deleted account.
	call(t, "POST", "/api/users", "", map[string]any{"user": map[string]string{
		"username": u.Username, "email": unique("x") + "@example.com", "password": "password-x"}}).expect(t, 422)
}
