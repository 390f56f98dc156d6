package authn_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/tungsten-blog/tungsten/internal/platform/authn"
	"github.com/tungsten-blog/tungsten/internal/platform/authn/authntest"
	"github.com/tungsten-blog/tungsten/internal/platform/errs"
)

func TestVerifyAcceptsValidTokens(t *testing.T) {
	t.Parallel()
	iss := authntest.NewIssuer(t)
	v := iss.Verifier()
	p, err := v.Verify(context.Background(), iss.User(t, 42, "jake"))
	require.NoError(t, err)
	require.Equal(t, int64(42), p.UserID)
	require.Equal(t, "jake", p.Username)

	p, err = v.Verify(context.Background(), iss.Service(t, "auth"))
	require.NoError(t, err)
	require.Equal(t, "auth", p.Service)
	require.Zero(t, p.UserID)
}

func b64(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestVerifyRejectsForgeries(t *testing.T) {
	t.Parallel()
	iss := authntest.NewIssuer(t)
	valid := iss.User(t, 1, "jake")
	parts := strings.Split(valid, ".")
	claims := authntest.Claims(authn.ScopeUser, "1", "jake")

	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	other := &authntest.Issuer{KID: iss.KID, Private: otherKey}
	unknownKID := &authntest.Issuer{KID: "nope", Private: iss.Private}

	expired := claims
	expired.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-time.Hour))
	expired.IssuedAt = jwt.NewNumericDate(time.Now().Add(-2 * time.Hour))
	noExp := claims
	noExp.ExpiresAt = nil
	wrongIss := claims
	wrongIss.Issuer = "evil"
	wrongAud := claims
	wrongAud.Audience = jwt.ClaimStrings{"other"}
	badScope := claims
	badScope.Scope = "admin"
	badSub := claims
	badSub.Subject = "-3"
	future := claims
	future.IssuedAt = jwt.NewNumericDate(time.Now().Add(time.Hour))

	// HS256 signed with the public key as the HMAC secret: the classic
	// algorithm-confusion attack.
	pub := iss.Private.Public().(ed25519.PublicKey)
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	hs.Header["kid"] = iss.KID
	hsTok, err := hs.SignedString([]byte(pub))
	require.NoError(t, err)

	tests := map[string]string{
		"alg none":            b64(map[string]string{"alg": "none", "kid": iss.KID, "typ": "JWT"}) + "." + parts[1] + ".",
		"alg none no sig":     b64(map[string]string{"alg": "none", "kid": iss.KID}) + "." + parts[1],
		"hs256 confusion":     hsTok,
		"other key same kid":  other.Sign(t, claims),
		"unknown kid":         unknownKID.Sign(t, claims),
		"tampered payload":    parts[0] + "." + b64(map[string]any{"sub": "2", "scope": "user", "iss": authn.Issuer, "aud": authn.Audience, "exp": time.Now().Add(time.Hour).Unix()}) + "." + parts[2],
		"truncated signature": valid[:len(valid)-4],
		"expired":             iss.Sign(t, expired),
		"no expiry":           iss.Sign(t, noExp),
		"wrong issuer":        iss.Sign(t, wrongIss),
		"wrong audience":      iss.Sign(t, wrongAud),
		"unknown scope":       iss.Sign(t, badScope),
		"bad subject":         iss.Sign(t, badSub),
		"issued in future":    iss.Sign(t, future),
		"garbage":             "not-a-token",
		"empty":               "",
	}
	v := iss.Verifier()
	for name, tok := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), tok)
			require.Error(t, err)
			require.Equal(t, errs.KindUnauthenticated, errs.KindOf(err), "error: %v", err)
		})
	}
}

func TestUnknownKeyRefreshIsThrottled(t *testing.T) {
	t.Parallel()
	iss := authntest.NewIssuer(t)
	var fetches atomic.Int32
	v := authn.NewVerifier(func(context.Context) (authn.JWKS, error) {
		fetches.Add(1)
		return iss.JWKS(), nil
	})
	forger := &authntest.Issuer{KID: "random", Private: iss.Private}
	for range 20 {
		_, err := v.Verify(context.Background(), forger.Sign(t, authntest.Claims(authn.ScopeUser, "1", "x")))
		require.Error(t, err)
	}
	require.Equal(t, int32(1), fetches.Load(), "forged key IDs must not make the verifier refetch keys for every request")
}

func TestKeySourceDownIsUnavailableNotUnauthenticated(t *testing.T) {
	t.Parallel()
	iss := authntest.NewIssuer(t)
	v := authn.NewVerifier(func(context.Context) (authn.JWKS, error) { return authn.JWKS{}, errors.New("connection refused") })
	_, err := v.Verify(context.Background(), iss.User(t, 1, "x"))
	require.Equal(t, errs.KindUnavailable, errs.KindOf(err))
}

func TestTokenFromHeader(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"Token abc", "abc", true},
		{"Bearer abc", "abc", true},
		{"token  abc ", "abc", true},
		{"Basic abc", "", false},
		{"Token", "", false},
		{"abc", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := authn.TokenFromHeader(tt.in)
		require.Equal(t, tt.ok, ok, tt.in)
		require.Equal(t, tt.want, got, tt.in)
	}
}

func FuzzVerify(f *testing.F) {
	iss := authntest.NewIssuer(f)
	f.Add(iss.User(f, 1, "jake"))
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("a.b.c")
	v := iss.Verifier()
	f.Fuzz(func(t *testing.T, tok string) {
		p, err := v.Verify(context.Background(), tok)
		if err != nil {
			require.Equal(t, errs.KindUnauthenticated, errs.KindOf(err), "error kind for %q", tok)
			return
		}
		require.False(t, p.UserID == 0 && p.Service == "", "accepted token without a principal: %q", tok)
	})
}

// A verifier that could not reach auth yet (auth starting later in another
// pod) must fetch keys as soon as a token arrives, not wait out a throttle.
func TestVerifierRetriesWhileItHasNoKeys(t *testing.T) {
	t.Parallel()
	iss := authntest.NewIssuer(t)
	var up atomic.Bool
	v := authn.NewVerifier(func(context.Context) (authn.JWKS, error) {
		if !up.Load() {
			return authn.JWKS{}, errors.New("connection refused")
		}
		return iss.JWKS(), nil
	})
	require.Error(t, v.Refresh(context.Background()))
	up.Store(true)
	_, err := v.Verify(context.Background(), iss.User(t, 1, "jake"))
	require.NoError(t, err)
}

// Verified tokens are remembered, but never past their expiry, and a change
// of the key set forgets them (a withdrawn key admits nothing any more).
func TestVerifiedTokenCacheHonoursExpiryAndKeyChanges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	iss := authntest.NewIssuer(t)
	v := iss.Verifier()
	claims := authntest.Claims(authn.ScopeUser, "7", "jake")
	// Expired 28 s ago: inside the 30 s leeway for two more seconds.
	claims.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-28 * time.Second))
	claims.IssuedAt = jwt.NewNumericDate(time.Now().Add(-time.Minute))
	short := iss.Sign(t, claims)
	p, err := v.Verify(ctx, short)
	require.NoError(t, err)
	require.Equal(t, short, p.Token)
	p, err = v.Verify(ctx, short) // from the cache
	require.NoError(t, err)
	require.Equal(t, int64(7), p.UserID)
	require.Equal(t, short, p.Token)
	require.Eventually(t, func() bool { _, err := v.Verify(ctx, short); return err != nil },
		10*time.Second, 100*time.Millisecond, "an expired token must fail although it was cached")

	long := iss.User(t, 8, "bob")
	_, err = v.Verify(ctx, long)
	require.NoError(t, err)
	other := authntest.NewIssuer(t)
	require.NoError(t, v.SetKeys(other.JWKS())) // iss's key withdrawn
	_, err = v.Verify(ctx, long)
	require.Error(t, err, "a token of a withdrawn key must fail although it was cached")
}

func BenchmarkVerify(b *testing.B) {
	iss := authntest.NewIssuer(b)
	v := iss.Verifier()
	tok := iss.User(b, 42, "jake")
	ctx := context.Background()
	for b.Loop() {
		_, err := v.Verify(ctx, tok)
		require.NoError(b, err)
	}
}
