package telemetry

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestErrorAttrsListsTheCauseChain(t *testing.T) {
	t.Parallel()
	root := errors.New("connection refused")
	err := fmt.Errorf("loading article: %w", fmt.Errorf("querying articles: %w", root))
	attrs := ErrorAttrs(err)
	require.Len(t, attrs, 2, "attrs = %v", attrs)
	require.Equal(t, "error", attrs[0].Key)
	require.Equal(t, "error_chain", attrs[1].Key)
	chain, ok := attrs[1].Value.Any().([]string)
	require.True(t, ok, "error_chain = %#v, want a list of causes", attrs[1].Value.Any())
	require.Len(t, chain, 3, "error_chain = %#v, want 3 causes", chain)
	require.Equal(t, "connection refused", chain[2], "the chain ends with the root")
	joined := ErrorAttrs(errors.Join(errors.New("a"), fmt.Errorf("b: %w", root)))
	require.Len(t, joined[1].Value.Any().([]string), 4, "joined chain")
	require.Nil(t, ErrorAttrs(nil), "nil error gave attributes")
}
