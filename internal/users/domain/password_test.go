package domain_test

import (
	"bytes"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tungsten-blog/tungsten/internal/users/domain"
)

// cheap keeps the tests fast; the format and logic are the same.
var cheap = domain.Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1}

func TestPasswordRoundTrip(t *testing.T) {
	t.Parallel()
	for _, pw := range []string{"password123", "ünïcödé-pässwörd", strings.Repeat("x", 128), "with $ and , inside"} {
		h, err := domain.HashPassword(pw, cheap, rand.Reader)
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$"), h)
		ok, err := domain.VerifyPassword(pw, h)
		require.NoError(t, err)
		require.True(t, ok, "the right password verifies")

		ok, err = domain.VerifyPassword(pw+"x", h)
		require.NoError(t, err)
		require.False(t, ok, "a wrong password does not verify")
	}
}

func TestPasswordDefaultParamsFormat(t *testing.T) {
	t.Parallel()
	h, err := domain.HashPassword("password123", domain.DefaultArgon2Params, rand.Reader)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$"), h)
	parsed, err := domain.ParseHash(h)
	require.NoError(t, err)
	require.Len(t, parsed.Salt, 16)
	require.Len(t, parsed.Key, 32)
	require.False(t, domain.NeedsRehash(h, domain.DefaultArgon2Params))
	require.True(t, domain.NeedsRehash(h, cheap))
}

func TestPasswordSaltsDiffer(t *testing.T) {
	t.Parallel()
	a, err := domain.HashPassword("password123", cheap, rand.Reader)
	require.NoError(t, err)
	b, err := domain.HashPassword("password123", cheap, rand.Reader)
	require.NoError(t, err)
	require.NotEqual(t, a, b)
}

func TestPasswordSaltFromReader(t *testing.T) {
	t.Parallel()
	h, err := domain.HashPassword("password123", cheap, bytes.NewReader(make([]byte, 16)))
	require.NoError(t, err)
	require.Contains(t, h, "$AAAAAAAAAAAAAAAAAAAAAA$")
	_, err = domain.HashPassword("password123", cheap, bytes.NewReader(make([]byte, 3)))
	require.Error(t, err, "a short random source is an error")
}

func TestPasswordTamperedHash(t *testing.T) {
	t.Parallel()
	h, err := domain.HashPassword("password123", cheap, rand.Reader)
	require.NoError(t, err)
	parts := strings.Split(h, "$")

	flip := func(s string) string {
		b := []byte(s)
		if b[0] == 'A' {
			b[0] = 'B'
		} else {
			b[0] = 'A'
		}
		return string(b)
	}
	tests := []struct {
		name      string
		encoded   string
		malformed bool
	}{
		{name: "key changed", encoded: strings.Join([]string{"", parts[1], parts[2], parts[3], parts[4], flip(parts[5])}, "$")},
		{name: "salt changed", encoded: strings.Join([]string{"", parts[1], parts[2], parts[3], flip(parts[4]), parts[5]}, "$")},
		{name: "params changed", encoded: strings.Join([]string{"", parts[1], parts[2], "m=64,t=2,p=1", parts[4], parts[5]}, "$")},
		{name: "argon2i", encoded: strings.Replace(h, "argon2id", "argon2i", 1), malformed: true},
		{name: "old version", encoded: strings.Replace(h, "v=19", "v=16", 1), malformed: true},
		{name: "truncated", encoded: h[:len(h)-10], malformed: true},
		{name: "empty", encoded: "", malformed: true},
		{name: "bcrypt", encoded: "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy", malformed: true},
		{name: "huge memory", encoded: strings.Join([]string{"", parts[1], parts[2], "m=4294967295,t=1,p=1", parts[4], parts[5]}, "$"), malformed: true},
		{name: "zero iterations", encoded: strings.Join([]string{"", parts[1], parts[2], "m=64,t=0,p=1", parts[4], parts[5]}, "$"), malformed: true},
		{name: "params reordered", encoded: strings.Join([]string{"", parts[1], parts[2], "t=1,m=64,p=1", parts[4], parts[5]}, "$"), malformed: true},
		{name: "padded base64", encoded: h + "==", malformed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ok, err := domain.VerifyPassword("password123", tt.encoded)
			require.False(t, ok)
			if tt.malformed {
				require.ErrorIs(t, err, domain.ErrMalformedHash)
			} else {
				require.NoError(t, err)
			}
		})
	}
}

func TestArgon2ParamsValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		p    domain.Argon2Params
		ok   bool
	}{
		{name: "default", p: domain.DefaultArgon2Params, ok: true},
		{name: "minimal", p: domain.Argon2Params{Memory: 8, Iterations: 1, Parallelism: 1}, ok: true},
		{name: "memory below 8 per lane", p: domain.Argon2Params{Memory: 15, Iterations: 1, Parallelism: 2}},
		{name: "memory too big", p: domain.Argon2Params{Memory: domain.MaxArgon2Memory + 1, Iterations: 1, Parallelism: 1}},
		{name: "no iterations", p: domain.Argon2Params{Memory: 64, Iterations: 0, Parallelism: 1}},
		{name: "no lanes", p: domain.Argon2Params{Memory: 64, Iterations: 1, Parallelism: 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.p.Validate()
			if tt.ok {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
			}
		})
	}
}

// FuzzParseHash checks that parsing never panics and that whatever parses
// re-encodes to the same string (the format is canonical).
func FuzzParseHash(f *testing.F) {
	h, err := domain.HashPassword("password123", cheap, rand.Reader)
	require.NoError(f, err)
	for _, s := range []string{h, "", "$", "$argon2id$v=19$m=64,t=1,p=1$$", "$argon2id$v=19$m=08,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA",
		"$argon2id$v=19$m=+64,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA", "$argon2id$v=19$m=64,t=1,p=256$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		parsed, err := domain.ParseHash(s)
		if err != nil {
			return
		}
		require.Equal(t, s, parsed.String(), "ParseHash(%q) re-encodes", s)
	})
}
