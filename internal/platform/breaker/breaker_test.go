package breaker

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestBreakerOpensForTheCooldown(t *testing.T) {
	t.Parallel()
	now := time.Unix(100, 0)
	b := New(time.Second)
	b.now = func() time.Time { return now }
	require.True(t, b.Allow(), "a new breaker is closed")
	b.Fail()
	require.False(t, b.Allow(), "open right after a failure")
	now = now.Add(999 * time.Millisecond)
	require.False(t, b.Allow(), "still open within the cool-down")
	now = now.Add(time.Millisecond)
	require.True(t, b.Allow(), "closed again after the cool-down")
}
