package authn_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tungsten-blog/tungsten/internal/platform/authn"
	"github.com/tungsten-blog/tungsten/internal/platform/authn/authntest"
	"github.com/tungsten-blog/tungsten/internal/platform/errs"
)

func TestAbuse_TokenLifecycle_RevokedTokensAreRefusedEvenWhenCached(t *testing.T) {
	t.Parallel()
	iss := authntest.NewIssuer(t)
	v := iss.Verifier()
	ctx := context.Background()
	token := func(id, version int64) string {
		c := authntest.Claims(authn.ScopeUser, "7", "jake")
		if id != 7 {
			c = authntest.Claims(authn.ScopeUser, "8", "bob")
		}
		c.Version = version
		return iss.Sign(t, c)
	}
	v0, v1, bob := token(7, 0), token(7, 1), token(8, 0)
	for _, tok := range []string{v0, v1, bob} {
		_, err := v.Verify(ctx, tok) // now in the verified-token cache
		require.NoError(t, err)
	}

	v.Revocations().Add(authn.Revocation{UserID: 7, MinVersion: 1, At: time.Now().UnixMilli()})
	_, err := v.Verify(ctx, v0)
	require.True(t, errs.Is(err, errs.KindUnauthenticated), "a cached token below the version is refused: %v", err)
	p, err := v.Verify(ctx, v1)
	require.NoError(t, err, "the token of the new version is not")
	require.Equal(t, int64(1), p.Version)
	_, err = v.Verify(ctx, bob)
	require.NoError(t, err, "other users are untouched")

	v.Revocations().Add(authn.Revocation{UserID: 7, MinVersion: 0, At: time.Now().UnixMilli()})
	_, err = v.Verify(ctx, v0)
	require.Error(t, err, "an older revocation delivered late does not undo a newer one")

	v.Revocations().Add(authn.Revocation{UserID: 7, MinVersion: 2, Deleted: true, At: time.Now().UnixMilli()})
	_, err = v.Verify(ctx, token(7, 5))
	require.Error(t, err, "a deleted account's tokens are all refused")

	_, err = v.Verify(ctx, iss.Service(t, "auth"))
	require.NoError(t, err, "service tokens are not user revocations' business")
}

func TestRevocationsAreForgottenAfterTheirTokensExpired(t *testing.T) {
	t.Parallel()
	r := authn.NewRevocations()
	r.SetRetention(time.Hour)
	old := time.Now().Add(-2 * time.Hour).UnixMilli()
	for id := int64(1); id <= 1023; id++ {
		r.Add(authn.Revocation{UserID: id, MinVersion: 1, At: old})
	}
	require.Equal(t, 1023, r.Len())
	r.Add(authn.Revocation{UserID: 5000, MinVersion: 1, At: time.Now().UnixMilli()}) // the 1024th entry prunes
	require.Equal(t, 1, r.Len(), "entries older than the retention went")
	require.True(t, r.Revoked(authn.Principal{UserID: 5000, Version: 0}))
	require.False(t, r.Revoked(authn.Principal{UserID: 1, Version: 0}), "every token it revoked has expired anyway")
}
