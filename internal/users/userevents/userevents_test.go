package userevents_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tungsten-blog/tungsten/internal/users/userevents"
)

// TestWireForm pins the payloads as consumers that are already deployed
// decode them: renaming a field or changing its type breaks this test.
func TestWireForm(t *testing.T) {
	t.Parallel()
	bio := "hi"
	for _, tc := range []struct {
		v    any
		want string
	}{
		{userevents.User{ID: 1, Username: "ann", Bio: &bio, UpdatedAt: 5},
			`{"id":1,"username":"ann","bio":"hi","image":null,"updatedAt":5}`},
		{userevents.Follow{FollowerID: 1, FolloweeID: 2, At: 3}, `{"followerId":1,"followeeId":2,"at":3}`},
		{userevents.Deleted{ID: 4, At: 6}, `{"id":4,"at":6}`},
	} {
		b, err := json.Marshal(tc.v)
		require.NoError(t, err)
		require.JSONEq(t, tc.want, string(b))
	}
	require.Equal(t, []string{"users.user.registered", "users.user.updated", "users.follow.created",
		"users.follow.deleted", "users.user.deleted", "users.tokens.revoked"}, userevents.Types())
}

func TestMillis(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{`5`: 5, `null`: 0, `"1970-01-01T00:00:01Z"`: 1000, `"2024-01-02T03:04:05.5+01:00"`: 1704161045500} {
		var m userevents.Millis
		require.NoError(t, json.Unmarshal([]byte(in), &m), in)
		require.Equal(t, want, int64(m), in)
	}
	for _, in := range []string{`"yesterday"`, `{}`, `1.5`} {
		var m userevents.Millis
		require.Error(t, json.Unmarshal([]byte(in), &m), in)
	}
}
