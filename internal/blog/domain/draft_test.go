package domain_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tungsten-blog/tungsten/internal/blog/domain"
)

func TestPreviewToken(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 100 {
		tok := domain.NewPreviewToken()
		require.True(t, domain.IsPreviewToken(tok), tok)
		require.False(t, seen[tok], "tokens repeat")
		seen[tok] = true
	}
	for _, bad := range []string{"", "short", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxy1", "abcdefghijklmnopqrstuvwxyz0"} {
		require.False(t, domain.IsPreviewToken(bad), bad)
	}
}

func TestVisibleTo(t *testing.T) {
	t.Parallel()
	published := domain.Article{AuthorID: 7}
	draft := domain.Article{AuthorID: 7, Draft: true}
	require.True(t, published.VisibleTo(0))
	require.True(t, published.VisibleTo(8))
	require.True(t, draft.VisibleTo(7))
	require.False(t, draft.VisibleTo(8))
	require.False(t, draft.VisibleTo(0))
}
