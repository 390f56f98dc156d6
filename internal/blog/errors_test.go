package blog_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A read-model error while resolving ?author= is an error, not an empty
// page claiming the author wrote nothing.
func TestAuthorResolutionDatabaseErrorIsNotAnEmptyPage(t *testing.T) {
	t.Parallel()
	ts := newTestService(t)
	require.NoError(t, ts.db.Close())
	for _, q := range []string{"author=alice", "favorited=alice"} {
		res := ts.do("GET", "/api/articles?"+q, "", nil)
		require.GreaterOrEqual(t, res.status, 500, "%s with the database gone: body %s", q, res.raw)
		require.NotEmpty(t, errorMessages(res), "%s: no error body: %s", q, res.raw)
	}
}

// A client that hangs up while the blog asks users for a profile must not
// make the blog believe users is down (its cooldown would then skip users
// for every other reader).
func TestHangUpDoesNotTripTheUsersCooldown(t *testing.T) {
	t.Parallel()
	ts := newTestService(t)
	ts.users.add(7, "bob", "", 1)
	ctx, cancel := context.WithCancel(context.Background())
	ts.users.hook = func() {
		cancel()                          // the client hangs up while users answers
		time.Sleep(50 * time.Millisecond) // and the blog sees it before the answer
	}
	rec := httptest.NewRecorder()
	ts.h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/articles?author=carol", nil).WithContext(ctx))
	ts.users.mu.Lock()
	ts.users.hook = nil
	ts.users.mu.Unlock()

	before := ts.users.callCount()
	ts.do("GET", "/api/articles?author=bob", "", nil).want(t, 200)
	require.NotEqual(t, before, ts.users.callCount(), "users was not asked: the hang-up tripped the cooldown")
}
