package app_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/propagation"

	"github.com/tungsten-blog/tungsten/internal/platform/database"
	"github.com/tungsten-blog/tungsten/internal/platform/errs"
	"github.com/tungsten-blog/tungsten/internal/platform/testenv"
	"github.com/tungsten-blog/tungsten/internal/users"
	"github.com/tungsten-blog/tungsten/internal/users/adapters/sqlstore"
	"github.com/tungsten-blog/tungsten/internal/users/app"
	"github.com/tungsten-blog/tungsten/internal/users/domain"
)

var cheap = domain.Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1}

func newService(t *testing.T, store *sqlstore.Store, params domain.Argon2Params, now func() time.Time) (*app.Service, *int) {
	t.Helper()
	kicks := new(int)
	var mu sync.Mutex
	s, err := app.New(app.Config{Argon2: params}, app.Deps{Repo: store, Now: now, AfterCommit: func() {
		mu.Lock()
		*kicks++
		mu.Unlock()
	}})
	require.NoError(t, err)
	return s, kicks
}

func TestRehashOnSignIn(t *testing.T) {
	t.Parallel()
	db := testenv.OpenDB(t, database.SQLite, "users", users.Migrations)
	store := sqlstore.New(db, propagation.TraceContext{})
	ctx := context.Background()

	old, _ := newService(t, store, cheap, nil)
	u, err := old.Register(ctx, "jake", "jake@x.y", "password123")
	require.NoError(t, err)
	require.False(t, domain.NeedsRehash(u.PasswordHash, cheap))

	stronger := domain.Argon2Params{Memory: 128, Iterations: 2, Parallelism: 1}
	svc, _ := newService(t, store, stronger, nil)
	_, err = svc.CheckCredentials(ctx, "jake@x.y", "wrong-password")
	requireKind(t, err, errs.KindUnauthenticated)
	got, err := store.UserByID(ctx, u.ID)
	require.NoError(t, err)
	require.Equal(t, u.PasswordHash, got.PasswordHash, "a failed sign-in changes nothing")

	_, err = svc.CheckCredentials(ctx, "jake@x.y", "password123")
	require.NoError(t, err, "hashes made with old parameters still verify")
	got, err = store.UserByID(ctx, u.ID)
	require.NoError(t, err)
	require.False(t, domain.NeedsRehash(got.PasswordHash, stronger), "and are upgraded: %s", got.PasswordHash)
	_, err = svc.CheckCredentials(ctx, "jake@x.y", "password123")
	require.NoError(t, err, "the upgraded hash verifies")
}

// TestVersionsStrictlyIncrease: consumers keep only newer versions, so two
// changes within one millisecond must still get distinct, growing versions.
func TestVersionsStrictlyIncrease(t *testing.T) {
	t.Parallel()
	db := testenv.OpenDB(t, database.SQLite, "users", users.Migrations)
	store := sqlstore.New(db, propagation.TraceContext{})
	ctx := context.Background()
	frozen := time.UnixMilli(1_700_000_000_000)
	svc, kicks := newService(t, store, cheap, func() time.Time { return frozen })

	u, err := svc.Register(ctx, "jake", "jake@x.y", "password123")
	require.NoError(t, err)
	require.Equal(t, 1, *kicks, "the relay is kicked after the commit")
	prev := u.UpdatedAt
	for i := range 3 {
		bio := fmt.Sprintf("bio %d", i)
		u, err = svc.UpdateUser(ctx, u.ID, 0, domain.Changes{Bio: &bio})
		require.NoError(t, err)
		require.Equal(t, prev.Add(time.Millisecond), u.UpdatedAt)
		prev = u.UpdatedAt
	}
	require.Equal(t, 4, *kicks)

	rows, err := db.QueryContext(ctx, `SELECT payload FROM outbox WHERE event_type = $1 ORDER BY seq`, domain.EventUserUpdated)
	require.NoError(t, err)
	defer rows.Close()
	var versions []int64
	for rows.Next() {
		var payload []byte
		require.NoError(t, rows.Scan(&payload))
		var ev domain.UserEvent
		require.NoError(t, json.Unmarshal(payload, &ev))
		versions = append(versions, int64(ev.UpdatedAt))
	}
	require.NoError(t, rows.Err())
	base := frozen.UnixMilli()
	require.Equal(t, []int64{base + 1, base + 2, base + 3}, versions)
}

// TestConcurrentRegistrations races registrations for one name: exactly one
// wins and the others get the conflict message, never a 500.
func TestConcurrentRegistrations(t *testing.T) {
	t.Parallel()
	for _, d := range testenv.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			db := testenv.OpenDB(t, d, "users", users.Migrations)
			svc, _ := newService(t, sqlstore.New(db, propagation.TraceContext{}), cheap, nil)
			const n = 8
			errsCh := make(chan error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					_, err := svc.Register(context.Background(), []string{"Jake", "jake", "JAKE"}[i%3], fmt.Sprintf("jake%d@x.y", i), "password123")
					errsCh <- err
				})
			}
			wg.Wait()
			close(errsCh)
			wins := 0
			for err := range errsCh {
				if err == nil {
					wins++
					continue
				}
				requireKind(t, err, errs.KindConflict, "username has already been taken")
			}
			require.Equal(t, 1, wins)
		})
	}
}

func TestProfilesLimits(t *testing.T) {
	t.Parallel()
	db := testenv.OpenDB(t, database.SQLite, "users", users.Migrations)
	svc, _ := newService(t, sqlstore.New(db, propagation.TraceContext{}), cheap, nil)
	ctx := context.Background()
	_, err := svc.Profiles(ctx, make([]int64, 60), make([]string, 41))
	requireKind(t, err, errs.KindInvalid, "at most 100 ids and usernames per lookup")
	_, err = svc.Profiles(ctx, []int64{1, 0}, nil)
	requireKind(t, err, errs.KindInvalid, "id must be a positive integer")
	ps, err := svc.Profiles(ctx, nil, []string{""})
	require.NoError(t, err)
	require.Empty(t, ps)
}

// gatedRandom serves free bytes, then blocks every read until released:
// a hash that reads its salt from it holds its hashing slot meanwhile.
type gatedRandom struct {
	mu      sync.Mutex
	free    int
	blocked chan struct{}
	release chan struct{}
	once    sync.Once
}

func (g *gatedRandom) Read(p []byte) (int, error) {
	g.mu.Lock()
	if g.free <= 0 {
		g.mu.Unlock()
		g.once.Do(func() { close(g.blocked) })
		<-g.release
		g.mu.Lock()
	}
	g.free -= len(p)
	g.mu.Unlock()
	return rand.Read(p)
}

func TestWaitingToHashHonoursTheContext(t *testing.T) {
	t.Parallel()
	db := testenv.OpenDB(t, database.SQLite, "users", users.Migrations)
	// New reads 32 bytes (the dummy password and its salt); the next read,
	// the salt of the first registration, blocks.
	random := &gatedRandom{free: 32, blocked: make(chan struct{}), release: make(chan struct{})}
	svc, err := app.New(app.Config{Argon2: cheap, HashConcurrency: 1},
		app.Deps{Repo: sqlstore.New(db, propagation.TraceContext{}), Random: random})
	require.NoError(t, err)

	done := make(chan error, 1)
	go func() {
		_, err := svc.Register(context.Background(), "slow", "slow@x.y", "password123")
		done <- err
	}()
	<-random.blocked // the registration holds the only slot

	// The slot stays taken until release, so the wait can only end with the
	// deadline; the deadline is generous so the email lookup before it fits.
	ctx, cancel := context.WithTimeout(context.Background(), app.SlotWait/2)
	defer cancel()
	_, err = svc.CheckCredentials(ctx, "nobody@x.y", "password123")
	requireKind(t, err, errs.KindUnavailable, "password hashing is unavailable")
	require.ErrorIs(t, err, context.DeadlineExceeded)

	close(random.release)
	require.NoError(t, <-done)
	_, err = svc.CheckCredentials(context.Background(), "slow@x.y", "password123")
	require.NoError(t, err, "the slot is free again")
}

func requireKind(t *testing.T, err error, kind errs.Kind, msgs ...string) {
	t.Helper()
	require.Error(t, err)
	e, ok := errors.AsType[*errs.Error](err)
	require.True(t, ok, "want *errs.Error, got %v", err)
	require.Equal(t, kind, e.Kind, "error %v", err)
	if len(msgs) > 0 {
		require.Equal(t, msgs, e.Messages)
	}
}

// Sign-ups hold at most half the argon2 slots and wait at most SlotWait for
// one, so a flood of them answers 503 with Retry-After instead of queueing,
// and sign-ins keep the rest of the slots.
func TestAbuse_Costs_SignupsCannotStarveSignIns(t *testing.T) {
	t.Parallel()
	db := testenv.OpenDB(t, database.SQLite, "users", users.Migrations)
	// New reads 32 bytes; the first registration's salt read then blocks,
	// holding the only sign-up slot (of two hashing slots).
	random := &gatedRandom{free: 32, blocked: make(chan struct{}), release: make(chan struct{})}
	svc, err := app.New(app.Config{Argon2: cheap, HashConcurrency: 2},
		app.Deps{Repo: sqlstore.New(db, propagation.TraceContext{}), Random: random})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		_, err := svc.Register(context.Background(), "first", "first@x.y", "password123")
		done <- err
	}()
	<-random.blocked

	start := time.Now()
	_, err = svc.Register(context.Background(), "second", "second@x.y", "password123")
	requireKind(t, err, errs.KindUnavailable)
	e, _ := errors.AsType[*errs.Error](err)
	require.Positive(t, e.RetryAfter, "the client is told when to come back")
	require.Less(t, time.Since(start), app.SlotWait+2*time.Second, "refused after a bounded wait, not at the request deadline")

	_, err = svc.CheckCredentials(context.Background(), "nobody@x.y", "password123")
	requireKind(t, err, errs.KindUnauthenticated) // a sign-in still got a slot

	close(random.release)
	require.NoError(t, <-done)
}
