package domain_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tungsten-blog/tungsten/internal/platform/errs"
	"github.com/tungsten-blog/tungsten/internal/users/domain"
)

func messages(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	e, ok := err.(*errs.Error)
	require.True(t, ok, "want *errs.Error, got %T", err)
	require.Equal(t, errs.KindInvalid, e.Kind)
	return e.Messages
}

func TestValidateRegistration(t *testing.T) {
	t.Parallel()
	const pw = "password123"
	tests := []struct {
		name                      string
		username, email, password string
		want                      []string
		wantUser, wantEmail       string
	}{
		{name: "valid", username: "jake", email: "jake@jake.jake", password: pw, wantUser: "jake", wantEmail: "jake@jake.jake"},
		{name: "normalized", username: "  Jake.Doe_1-x ", email: " Jake@Example.COM ", password: pw, wantUser: "Jake.Doe_1-x", wantEmail: "jake@example.com"},
		{name: "unicode letters", username: "Zoë_日本", email: "z@example.com", password: pw, wantUser: "Zoë_日本", wantEmail: "z@example.com"},
		{name: "all blank", want: []string{"username can't be blank", "email can't be blank", "password can't be blank"}},
		{name: "whitespace username", username: "   ", email: "a@b.c", password: pw, want: []string{"username can't be blank"}},
		{name: "username with space", username: "jake doe", email: "a@b.c", password: pw, want: []string{"username is invalid (use letters, digits, '_', '-' and '.')"}},
		{name: "username with slash", username: "a/b", email: "a@b.c", password: pw, want: []string{"username is invalid (use letters, digits, '_', '-' and '.')"}},
		{name: "username dot", username: ".", email: "a@b.c", password: pw, want: []string{"username is invalid (use letters, digits, '_', '-' and '.')"}},
		{name: "username dotdot", username: "..", email: "a@b.c", password: pw, want: []string{"username is invalid (use letters, digits, '_', '-' and '.')"}},
		{name: "username decomposed is stored composed (NFKC)", username: "e\u0301", email: "a@b.c", password: pw, wantUser: "\u00e9", wantEmail: "a@b.c"},
		{name: "username lone combining mark", username: "\u0301", email: "a@b.c", password: pw, want: []string{"username is invalid (use letters, digits, '_', '-' and '.')"}},
		{name: "username 64 runes", username: strings.Repeat("é", 64), email: "a@b.c", password: pw, wantUser: strings.Repeat("é", 64), wantEmail: "a@b.c"},
		{name: "username 65 runes", username: strings.Repeat("a", 65), email: "a@b.c", password: pw, want: []string{"username is too long (maximum is 64 characters)"}},
		{name: "email no at", username: "u", email: "jake", password: pw, want: []string{"email is invalid"}},
		{name: "email display name", username: "u", email: "Jake <jake@x.y>", password: pw, want: []string{"email is invalid"}},
		{name: "email angle brackets", username: "u", email: "<jake@x.y>", password: pw, want: []string{"email is invalid"}},
		{name: "email two ats", username: "u", email: "a@b@c.d", password: pw, want: []string{"email is invalid"}},
		{name: "email NUL", username: "u", email: "a\x00@b.c", password: pw, want: []string{"email is invalid"}},
		{name: "email too long", username: "u", email: strings.Repeat("a", 250) + "@b.cd", password: pw, want: []string{"email is too long (maximum is 254 characters)"}},
		{name: "password short", username: "u", email: "a@b.c", password: "1234567", want: []string{"password is too short (minimum is 8 characters)"}},
		{name: "password 8 runes", username: "u", email: "a@b.c", password: "ééééééé1", wantUser: "u", wantEmail: "a@b.c"},
		{name: "password long", username: "u", email: "a@b.c", password: strings.Repeat("p", 129), want: []string{"password is too long (maximum is 128 characters)"}},
		{name: "everything wrong", username: "a b", email: "nope", password: "short", want: []string{
			"username is invalid (use letters, digits, '_', '-' and '.')", "email is invalid", "password is too short (minimum is 8 characters)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := domain.ValidateRegistration(tt.username, tt.email, tt.password)
			require.Equal(t, tt.want, messages(t, err))
			if tt.want == nil {
				require.Equal(t, tt.wantUser, got.Username)
				require.Equal(t, tt.wantEmail, got.Email)
				require.Equal(t, tt.password, got.Password)
			}
		})
	}
}

func ptr(s string) *string { return &s }

func TestValidateChanges(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   domain.Changes
		want []string
		out  domain.Changes
	}{
		{name: "nothing", in: domain.Changes{}, out: domain.Changes{}},
		{name: "clear bio and image", in: domain.Changes{Bio: ptr(""), Image: ptr("")}, out: domain.Changes{Bio: ptr(""), Image: ptr("")}},
		{name: "empty password means unchanged", in: domain.Changes{Password: ptr("")}, out: domain.Changes{}},
		{name: "normalizes", in: domain.Changes{Username: ptr(" Bob "), Email: ptr("BOB@X.Y"), Image: ptr(" https://x.y/a.png ")},
			out: domain.Changes{Username: ptr("Bob"), Email: ptr("bob@x.y"), Image: ptr("https://x.y/a.png")}},
		{name: "http image", in: domain.Changes{Image: ptr("http://x.y/a.png?s=1#f")}, out: domain.Changes{Image: ptr("http://x.y/a.png?s=1#f")}},
		{name: "blank username", in: domain.Changes{Username: ptr("")}, want: []string{"username can't be blank"}},
		{name: "blank email", in: domain.Changes{Email: ptr(" ")}, want: []string{"email can't be blank"}},
		{name: "short password", in: domain.Changes{Password: ptr("abc")}, want: []string{"password is too short (minimum is 8 characters)"}},
		{name: "bio too long", in: domain.Changes{Bio: ptr(strings.Repeat("b", 4001))}, want: []string{"bio is too long (maximum is 4000 characters)"}},
		{name: "bio 4000 runes", in: domain.Changes{Bio: ptr(strings.Repeat("ü", 4000))}, out: domain.Changes{Bio: ptr(strings.Repeat("ü", 4000))}},
		{name: "bio NUL", in: domain.Changes{Bio: ptr("a\x00b")}, want: []string{"bio is invalid (it contains a NUL character)"}},
		{name: "image javascript", in: domain.Changes{Image: ptr("javascript:alert(1)")}, want: []string{"image is invalid (use an http or https URL)"}},
		{name: "image relative", in: domain.Changes{Image: ptr("/a.png")}, want: []string{"image is invalid (use an http or https URL)"}},
		{name: "image no host", in: domain.Changes{Image: ptr("https:///a.png")}, want: []string{"image is invalid (use an http or https URL)"}},
		{name: "image user info", in: domain.Changes{Image: ptr("https://u:p@x.y/a.png")}, want: []string{"image is invalid (use an http or https URL)"}},
		{name: "image ftp", in: domain.Changes{Image: ptr("ftp://x.y/a.png")}, want: []string{"image is invalid (use an http or https URL)"}},
		{name: "image inner space", in: domain.Changes{Image: ptr("https://x.y/a b.png")}, want: []string{"image is invalid (use an http or https URL)"}},
		{name: "image too long", in: domain.Changes{Image: ptr("https://x.y/" + strings.Repeat("a", 2040))}, want: []string{"image is too long (maximum is 2048 characters)"}},
		{name: "all wrong", in: domain.Changes{Username: ptr("a b"), Email: ptr("x"), Password: ptr("1"), Bio: ptr(strings.Repeat("b", 4001)), Image: ptr("x")},
			want: []string{
				"username is invalid (use letters, digits, '_', '-' and '.')", "email is invalid",
				"password is too short (minimum is 8 characters)", "bio is too long (maximum is 4000 characters)",
				"image is invalid (use an http or https URL)",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := domain.ValidateChanges(tt.in)
			require.Equal(t, tt.want, messages(t, err))
			if tt.want == nil {
				require.Equal(t, tt.out, got)
			}
		})
	}
}

func TestUserApply(t *testing.T) {
	t.Parallel()
	base := domain.User{ID: 1, Username: "jake", Email: "jake@x.y", Bio: ptr("hi"), Image: nil}
	tests := []struct {
		name            string
		c               domain.Changes
		changed, public bool
		check           func(t *testing.T, u domain.User)
	}{
		{name: "no changes", c: domain.Changes{}},
		{name: "same values", c: domain.Changes{Username: ptr("jake"), Email: ptr("jake@x.y"), Bio: ptr("hi"), Image: ptr("")}},
		{name: "email is private", c: domain.Changes{Email: ptr("new@x.y")}, changed: true,
			check: func(t *testing.T, u domain.User) { require.Equal(t, "new@x.y", u.Email) }},
		{name: "username case", c: domain.Changes{Username: ptr("Jake")}, changed: true, public: true,
			check: func(t *testing.T, u domain.User) { require.Equal(t, "Jake", u.Username) }},
		{name: "clear bio", c: domain.Changes{Bio: ptr("")}, changed: true, public: true,
			check: func(t *testing.T, u domain.User) { require.Nil(t, u.Bio) }},
		{name: "set image", c: domain.Changes{Image: ptr("https://x.y/i.png")}, changed: true, public: true,
			check: func(t *testing.T, u domain.User) { require.Equal(t, "https://x.y/i.png", *u.Image) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			next, changed, public := base.Apply(tt.c)
			require.Equal(t, tt.changed, changed, "changed")
			require.Equal(t, tt.public, public, "public")
			if tt.check != nil {
				tt.check(t, next)
			}
			if !changed {
				require.Equal(t, base, next)
			}
		})
	}
}

func TestNextVersion(t *testing.T) {
	t.Parallel()
	t0 := time.UnixMilli(1_700_000_000_000)
	tests := []struct {
		name      string
		prev, now time.Time
		want      time.Time
	}{
		{name: "later", prev: t0, now: t0.Add(time.Second), want: t0.Add(time.Second)},
		{name: "same millisecond", prev: t0, now: t0.Add(300 * time.Microsecond), want: t0.Add(time.Millisecond)},
		{name: "clock behind", prev: t0, now: t0.Add(-time.Hour), want: t0.Add(time.Millisecond)},
		{name: "truncates", prev: t0, now: t0.Add(5*time.Millisecond + 999*time.Microsecond), want: t0.Add(5 * time.Millisecond)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := domain.NextVersion(tt.prev, tt.now)
			require.True(t, tt.want.Equal(got), "want %v, got %v", tt.want, got)
		})
	}
}

func TestUsernameKeyAndEmail(t *testing.T) {
	t.Parallel()
	require.Equal(t, "jake", domain.UsernameKey("JaKe"))
	require.Equal(t, domain.UsernameKey("ZOË"), domain.UsernameKey("zoë"))
	require.Equal(t, "jake@x.y", domain.NormalizeEmail("  JAKE@X.Y "))
}
