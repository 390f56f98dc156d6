package api_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Responses that carry a token must not be kept by any cache.
func TestAbuse_SecureDefaults_TokenResponsesAreNotStored(t *testing.T) {
	t.Parallel()
	u := user{Username: unique("u"), Password: "correct horse battery"}
	u.Email = u.Username + "@example.com"
	r := call(t, "POST", "/api/users", "", map[string]any{"user": map[string]string{
		"username": u.Username, "email": u.Email, "password": u.Password,
	}}).expect(t, 201)
	require.Equal(t, "no-store", r.Header.Get("Cache-Control"), "register")
	r = call(t, "POST", "/api/users/login", "", map[string]any{"user": map[string]string{"email": u.Email, "password": u.Password}}).expect(t, 200)
	require.Equal(t, "no-store", r.Header.Get("Cache-Control"), "login")
	token, _ := r.obj("user")["token"].(string)
	r = call(t, "GET", "/api/user", token, nil).expect(t, 200)
	require.Equal(t, "no-store", r.Header.Get("Cache-Control"), "current user")
	r = call(t, "PUT", "/api/user", token, map[string]any{"user": map[string]any{"bio": "hi"}}).expect(t, 200)
	require.Equal(t, "no-store", r.Header.Get("Cache-Control"), "update user")
}

// A name that renders like an existing one is taken; invisible fillers are
// refused; Hangul names work.
func TestAbuse_IdentityConfusion_LookAlikeUsernamesAreRefused(t *testing.T) {
	t.Parallel()
	base := "ab" + strings.TrimPrefix(unique(""), "")
	reg := func(name string) resp {
		return call(t, "POST", "/api/users", "", map[string]any{"user": map[string]string{
			"username": name, "email": unique("e") + "@example.com", "password": "correct horse battery",
		}})
	}
	reg(base).expect(t, 201)
	fullwidth := strings.Map(func(r rune) rune {
		if r >= '!' && r <= '~' {
			return r + 0xFEE0
		}
		return r
	}, base)
	for _, name := range []string{fullwidth, strings.ToUpper(base), base + "\u3164", base[:1] + "\u200B" + base[1:], "а" + base[1:]} {
		r := reg(name).expect(t, 422)
		require.Contains(t, r.messages(), "username", "%q", name)
	}
	hangul := "김" + base
	r := reg(hangul).expect(t, 201)
	require.Equal(t, hangul, r.obj("user")["username"])
	call(t, "GET", "/api/profiles/"+hangul, "", nil).expect(t, 200)
}

// Sign-in and sign-up bodies are small: a large one is refused before it is
// decoded, and an oversized field is a 422, never a limiter key or a hash.
func TestAbuse_Costs_OversizedAuthInputIsRefusedEarly(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("a", 100<<10)
	call(t, "POST", "/api/users/login", "", `{"user":{"email":"`+big+`@x.io","password":"p"}}`).expect(t, 413)
	call(t, "POST", "/api/users", "", `{"user":{"username":"u","email":"`+big+`@x.io","password":"p"}}`).expect(t, 413)
	r := call(t, "POST", "/api/users/login", "", map[string]any{"user": map[string]string{"email": strings.Repeat("a", 300) + "@x.io", "password": "whatever1"}}).expect(t, 422)
	require.Contains(t, r.messages(), "email is too long")
}
