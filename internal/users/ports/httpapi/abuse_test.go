package httpapi_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tungsten-blog/tungsten/internal/users"
)

// Follows are writes (each one a row and an outbox event): one account may
// follow or unfollow only so many times per window; other users keep their
// own budget.
func TestAbuse_Costs_FollowsArePerUserLimited(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *users.Config) { c.FollowLimit, c.FollowWindow = 3, time.Hour })
	_, jake := e.register("jake", "jake@x.y", "password1")
	_, bob := e.register("bob", "bob@x.y", "password1")
	base := len(e.outbox())
	for _, method := range []string{"POST", "DELETE", "POST"} {
		r := e.do(method, "/api/profiles/bob/follow", jake, nil)
		require.Equal(t, http.StatusOK, r.status, r.body)
	}
	for _, method := range []string{"DELETE", "POST"} {
		r := e.do(method, "/api/profiles/bob/follow", jake, nil)
		requireError(t, r, http.StatusTooManyRequests, "too many requests")
		require.NotEmpty(t, r.header.Get("Retry-After"))
	}
	require.Contains(t, e.do("GET", "/api/profiles/bob", jake, nil).body, `"following":true`, "the refused unfollow changed nothing")
	require.Len(t, e.outbox()[base:], 3, "no event for a refused request")
	r := e.do("POST", "/api/profiles/jake/follow", bob, nil)
	require.Equal(t, http.StatusOK, r.status, "another user keeps their budget: %s", r.body)
}
