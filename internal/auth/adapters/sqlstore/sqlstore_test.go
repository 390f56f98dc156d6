package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tungsten-blog/tungsten/internal/auth"
	"github.com/tungsten-blog/tungsten/internal/auth/adapters/sqlstore"
	"github.com/tungsten-blog/tungsten/internal/auth/domain"
	"github.com/tungsten-blog/tungsten/internal/platform/testenv"
)

func TestStoreContract(t *testing.T) {
	t.Parallel()
	for _, d := range testenv.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			store := sqlstore.New(testenv.OpenDB(t, d, "auth", auth.Migrations))

			keys, err := store.Keys(ctx)
			require.NoError(t, err)
			require.Empty(t, keys)

			now := time.Now().Truncate(time.Millisecond)
			k1, _ := domain.NewSigningKey(now.Add(-time.Hour))
			k2, _ := domain.NewSigningKey(now)
			require.NoError(t, store.Add(ctx, k1))
			require.NoError(t, store.Add(ctx, k2))
			require.Error(t, store.Add(ctx, k2), "key IDs are unique")

			keys, err = store.Keys(ctx)
			require.NoError(t, err)
			require.Len(t, keys, 2)
			byID := map[string]domain.SigningKey{}
			for _, k := range keys {
				byID[k.ID] = k
			}
			require.Equal(t, k1.Private, byID[k1.ID].Private, "the private key survives a round trip")
			require.True(t, k2.CreatedAt.Equal(byID[k2.ID].CreatedAt))

			require.NoError(t, store.Delete(ctx, k1.ID))
			keys, err = store.Keys(ctx)
			require.NoError(t, err)
			require.Len(t, keys, 1)
			require.Equal(t, k2.ID, keys[0].ID)
		})
	}
}
