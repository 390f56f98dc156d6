package domain

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tungsten-blog/tungsten/internal/platform/authn"
)

func TestKeyRingRotationAndPublication(t *testing.T) {
	t.Parallel()
	p := Policy{RotateEvery: 30 * 24 * time.Hour, TokenTTL: 72 * time.Hour}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	k1, err := NewSigningKey(t0)
	require.NoError(t, err)
	k2, err := NewSigningKey(t0.Add(p.RotateEvery))
	require.NoError(t, err)

	require.True(t, NewKeyRing(nil).NeedsRotation(p, t0), "no key: rotate")
	ring := NewKeyRing([]SigningKey{k1})
	require.False(t, ring.NeedsRotation(p, t0.Add(time.Hour)))
	require.True(t, ring.NeedsRotation(p, t0.Add(p.RotateEvery)))

	ring = NewKeyRing([]SigningKey{k1, k2})
	active, ok := ring.Active()
	require.True(t, ok)
	require.Equal(t, k2.ID, active.ID, "the newest key signs")

	// Right after rotation the old key is still published: tokens it signed live on.
	justAfter := k2.CreatedAt.Add(time.Hour)
	require.Len(t, ring.Published(p, justAfter), 2)
	require.Empty(t, ring.Expired(p, justAfter))
	// Once every token it signed has expired, it is withdrawn.
	later := k2.CreatedAt.Add(p.TokenTTL + time.Minute)
	require.Len(t, ring.Published(p, later), 1)
	require.Equal(t, k1.ID, ring.Expired(p, later)[0].ID)
	require.Len(t, ring.JWKS(p, later).Keys, 1)
}

func TestSignedTokensVerifyOnlyWithTheirKey(t *testing.T) {
	t.Parallel()
	now := time.Now()
	k1, _ := NewSigningKey(now)
	k2, _ := NewSigningKey(now)
	tok, err := Sign(k1, authn.ScopeUser, UserSubject(9), "ann", 0, now, time.Hour)
	require.NoError(t, err)

	v := authn.NewVerifier(func(context.Context) (authn.JWKS, error) {
		return authn.JWKS{Keys: []authn.JWK{k1.JWK(), k2.JWK()}}, nil
	})
	p, err := v.Verify(context.Background(), tok)
	require.NoError(t, err)
	require.Equal(t, int64(9), p.UserID)
	require.Equal(t, "ann", p.Username)

	only2 := authn.NewVerifier(func(context.Context) (authn.JWKS, error) { return authn.JWKS{Keys: []authn.JWK{k2.JWK()}}, nil })
	_, err = only2.Verify(context.Background(), tok)
	require.Error(t, err)
}
