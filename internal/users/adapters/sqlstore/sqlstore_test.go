package sqlstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// TestRepositoryContract runs one suite against every engine: the store must
// behave the same on SQLite and PostgreSQL.
func TestRepositoryContract(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		run  func(t *testing.T, db *database.DB, s *sqlstore.Store)
	}{
		{"CreateAndGet", testCreateAndGet},
		{"NotFound", testNotFound},
		{"DuplicatesCaseInsensitive", testDuplicates},
		{"Update", testUpdate},
		{"UpdateConflictFromConstraint", testUpdateConflictFromConstraint},
		{"FollowUnfollowIdempotent", testFollow},
		{"BatchProfiles", testBatchProfiles},
		{"OutboxInSameTransaction", testOutbox},
		{"SetPasswordHashCompareAndSet", testSetPasswordHash},
		{"Abuse_IdentityConfusion_LookAlikesAreTaken", testLookAlikes},
		{"Abuse_IdentityConfusion_BackfillSkeletons", testBackfillSkeletons},
		{"TokenVersionReservationsAndDeletion", testTokenVersionReservationsAndDeletion},
		{"SnapshotPages", testSnapshotPages},
	}
	for _, d := range testenv.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					t.Parallel()
					db := testenv.OpenDB(t, d, "users", users.Migrations)
					c.run(t, db, sqlstore.New(db, propagation.TraceContext{}))
				})
			}
		})
	}
}

var t0 = time.UnixMilli(1_700_000_000_123).UTC()

func str(s string) *string { return &s }

func create(t *testing.T, s *sqlstore.Store, username, email string) domain.User {
	t.Helper()
	var u domain.User
	err := s.Transact(context.Background(), func(tx app.Tx) error {
		var err error
		u, err = tx.CreateUser(context.Background(), domain.User{
			Username: username, Email: email, PasswordHash: "$hash$" + username, CreatedAt: t0, UpdatedAt: t0,
		})
		return err
	})
	require.NoError(t, err)
	require.Positive(t, u.ID)
	return u
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

func testCreateAndGet(t *testing.T, _ *database.DB, s *sqlstore.Store) {
	ctx := context.Background()
	a := create(t, s, "Jake", "jake@example.com")
	b := create(t, s, "Zoë", "zoe@example.com")
	require.NotEqual(t, a.ID, b.ID)

	got, err := s.UserByID(ctx, a.ID)
	require.NoError(t, err)
	require.Equal(t, domain.User{
		ID: a.ID, Username: "Jake", Email: "jake@example.com", PasswordHash: "$hash$Jake", CreatedAt: t0, UpdatedAt: t0,
	}, got, "every field round-trips; bio and image start NULL")

	got, err = s.UserByEmail(ctx, "jake@example.com")
	require.NoError(t, err)
	require.Equal(t, a.ID, got.ID)

	for _, name := range []string{"Jake", "jake", "JAKE"} {
		p, err := s.ProfileByUsername(ctx, name, 0)
		require.NoError(t, err)
		require.Equal(t, domain.Profile{ID: a.ID, Username: "Jake", UpdatedAt: t0}, p)
	}
	p, err := s.ProfileByUsername(ctx, "ZOË", 0)
	require.NoError(t, err, "unicode usernames match case-insensitively")
	require.Equal(t, b.ID, p.ID)

	err = s.Transact(ctx, func(tx app.Tx) error {
		u, err := tx.UserByUsername(ctx, "jAkE")
		require.NoError(t, err)
		require.Equal(t, a.ID, u.ID)
		u, err = tx.LockUser(ctx, b.ID)
		require.NoError(t, err)
		require.Equal(t, "Zoë", u.Username)
		u, err = tx.UserByID(ctx, a.ID)
		require.NoError(t, err)
		require.Equal(t, "Jake", u.Username)
		return nil
	})
	require.NoError(t, err)
}

func testNotFound(t *testing.T, _ *database.DB, s *sqlstore.Store) {
	ctx := context.Background()
	_, err := s.UserByID(ctx, 999)
	requireKind(t, err, errs.KindNotFound)
	_, err = s.UserByEmail(ctx, "nobody@example.com")
	requireKind(t, err, errs.KindNotFound)
	_, err = s.ProfileByUsername(ctx, "nobody", 0)
	requireKind(t, err, errs.KindNotFound)
	err = s.Transact(ctx, func(tx app.Tx) error {
		_, err := tx.UserByUsername(ctx, "nobody")
		requireKind(t, err, errs.KindNotFound)
		_, err = tx.LockUser(ctx, 999)
		requireKind(t, err, errs.KindNotFound)
		err = tx.UpdateUser(ctx, domain.User{ID: 999, Username: "x", Email: "x@y.z", UpdatedAt: t0})
		requireKind(t, err, errs.KindNotFound)
		return nil
	})
	require.NoError(t, err)
}

func testDuplicates(t *testing.T, _ *database.DB, s *sqlstore.Store) {
	ctx := context.Background()
	a := create(t, s, "Jake", "jake@example.com")

	taken, err := s.Taken(ctx, "JAKE", "other@example.com", 0)
	require.NoError(t, err)
	require.Equal(t, app.Taken{Username: true}, taken)
	taken, err = s.Taken(ctx, "other", "jake@example.com", 0)
	require.NoError(t, err)
	require.Equal(t, app.Taken{Email: true}, taken)
	taken, err = s.Taken(ctx, "jake", "jake@example.com", 0)
	require.NoError(t, err)
	require.Equal(t, app.Taken{Username: true, Email: true}, taken)
	taken, err = s.Taken(ctx, "jake", "jake@example.com", a.ID)
	require.NoError(t, err)
	require.Equal(t, app.Taken{}, taken, "a user's own name and email are not taken for them")

	// The unique constraints hold even when the Taken check is skipped
	// (two requests racing), and the error names the field.
	for _, tc := range []struct{ username, email, msg string }{
		{"jAKE", "new@example.com", "username has already been taken"},
		{"new", "jake@example.com", "email has already been taken"},
	} {
		err := s.Transact(ctx, func(tx app.Tx) error {
			_, err := tx.CreateUser(ctx, domain.User{Username: tc.username, Email: tc.email, PasswordHash: "h", CreatedAt: t0, UpdatedAt: t0})
			return err
		})
		requireKind(t, err, errs.KindConflict, tc.msg)
	}
}

func testUpdate(t *testing.T, _ *database.DB, s *sqlstore.Store) {
	ctx := context.Background()
	a := create(t, s, "jake", "jake@example.com")
	later := t0.Add(time.Minute)
	err := s.Transact(ctx, func(tx app.Tx) error {
		u, err := tx.LockUser(ctx, a.ID)
		if err != nil {
			return err
		}
		u.Username, u.Email, u.PasswordHash = "Jacob", "jacob@example.com", "new-hash"
		u.Bio, u.Image, u.UpdatedAt = str("I like to skateboard"), str("https://x.y/j.png"), later
		return tx.UpdateUser(ctx, u)
	})
	require.NoError(t, err)

	got, err := s.UserByID(ctx, a.ID)
	require.NoError(t, err)
	require.Equal(t, domain.User{
		ID: a.ID, Username: "Jacob", Email: "jacob@example.com", PasswordHash: "new-hash",
		Bio: str("I like to skateboard"), Image: str("https://x.y/j.png"), CreatedAt: t0, UpdatedAt: later,
	}, got)
	_, err = s.ProfileByUsername(ctx, "jake", 0)
	requireKind(t, err, errs.KindNotFound)
	_, err = s.ProfileByUsername(ctx, "JACOB", 0)
	require.NoError(t, err, "the lookup key follows the new username")
	_, err = s.UserByEmail(ctx, "jake@example.com")
	requireKind(t, err, errs.KindNotFound)

	// Clearing bio and image stores NULL.
	err = s.Transact(ctx, func(tx app.Tx) error {
		got.Bio, got.Image = nil, nil
		return tx.UpdateUser(ctx, got)
	})
	require.NoError(t, err)
	got, err = s.UserByID(ctx, a.ID)
	require.NoError(t, err)
	require.Nil(t, got.Bio)
	require.Nil(t, got.Image)
}

func testUpdateConflictFromConstraint(t *testing.T, _ *database.DB, s *sqlstore.Store) {
	ctx := context.Background()
	a := create(t, s, "jake", "jake@example.com")
	create(t, s, "bob", "bob@example.com")
	for _, tc := range []struct{ username, email, msg string }{
		{"BOB", "jake@example.com", "username has already been taken"},
		{"jake", "bob@example.com", "email has already been taken"},
	} {
		err := s.Transact(ctx, func(tx app.Tx) error {
			u := a
			u.Username, u.Email = tc.username, tc.email
			return tx.UpdateUser(ctx, u)
		})
		requireKind(t, err, errs.KindConflict, tc.msg)
	}
	got, err := s.UserByID(ctx, a.ID)
	require.NoError(t, err)
	require.Equal(t, "jake", got.Username, "a failed update changes nothing")
}

func follow(t *testing.T, s *sqlstore.Store, follower, followee int64, on bool) bool {
	t.Helper()
	var changed bool
	err := s.Transact(context.Background(), func(tx app.Tx) error {
		var err error
		if on {
			changed, err = tx.Follow(context.Background(), follower, followee, t0)
		} else {
			changed, err = tx.Unfollow(context.Background(), follower, followee)
		}
		return err
	})
	require.NoError(t, err)
	return changed
}

func testFollow(t *testing.T, _ *database.DB, s *sqlstore.Store) {
	ctx := context.Background()
	a := create(t, s, "alice", "alice@example.com")
	b := create(t, s, "bob", "bob@example.com")

	following := func(viewer int64) bool {
		p, err := s.ProfileByUsername(ctx, "bob", viewer)
		require.NoError(t, err)
		return p.Following
	}
	require.False(t, following(a.ID))
	require.True(t, follow(t, s, a.ID, b.ID, true), "first follow creates")
	require.False(t, follow(t, s, a.ID, b.ID, true), "second follow is a no-op")
	require.True(t, following(a.ID))
	require.False(t, following(0), "anonymous viewers follow nobody")
	require.False(t, following(b.ID), "following is directional")

	p, err := s.ProfileByUsername(ctx, "alice", b.ID)
	require.NoError(t, err)
	require.False(t, p.Following)

	require.True(t, follow(t, s, a.ID, b.ID, false), "first unfollow deletes")
	require.False(t, follow(t, s, a.ID, b.ID, false), "second unfollow is a no-op")
	require.False(t, following(a.ID))
	require.True(t, follow(t, s, a.ID, b.ID, true), "following again after unfollowing creates")
}

func testBatchProfiles(t *testing.T, _ *database.DB, s *sqlstore.Store) {
	ctx := context.Background()
	a := create(t, s, "alice", "alice@example.com")
	b := create(t, s, "Bob", "bob@example.com")
	c := create(t, s, "carol", "carol@example.com")

	ps, err := s.Profiles(ctx, []int64{c.ID, a.ID, 9999}, []string{"bob", "alice", "nobody"})
	require.NoError(t, err)
	require.Equal(t, []domain.Profile{
		{ID: a.ID, Username: "alice", UpdatedAt: t0},
		{ID: b.ID, Username: "Bob", UpdatedAt: t0},
		{ID: c.ID, Username: "carol", UpdatedAt: t0},
	}, ps, "each user once, ordered by ID, unknown ones left out")

	ps, err = s.Profiles(ctx, []int64{b.ID}, nil)
	require.NoError(t, err)
	require.Len(t, ps, 1)
	ps, err = s.Profiles(ctx, nil, []string{"carol"})
	require.NoError(t, err)
	require.Len(t, ps, 1)
	ps, err = s.Profiles(ctx, nil, nil)
	require.NoError(t, err)
	require.Empty(t, ps)

	many := make([]int64, 100)
	for i := range many {
		many[i] = int64(i + 1)
	}
	ps, err = s.Profiles(ctx, many, []string{"x"})
	require.NoError(t, err, "a full batch of 100 binds")
	require.Len(t, ps, 3)
}

type outboxRow struct {
	eventType string
	payload   []byte
}

func outbox(t *testing.T, db *database.DB) []outboxRow {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), `SELECT event_type, payload FROM outbox ORDER BY seq`)
	require.NoError(t, err)
	defer rows.Close()
	var out []outboxRow
	for rows.Next() {
		var r outboxRow
		require.NoError(t, rows.Scan(&r.eventType, &r.payload))
		out = append(out, r)
	}
	require.NoError(t, rows.Err())
	return out
}

func testOutbox(t *testing.T, db *database.DB, s *sqlstore.Store) {
	ctx := context.Background()
	boom := errors.New("boom")
	err := s.Transact(ctx, func(tx app.Tx) error {
		u, err := tx.CreateUser(ctx, domain.User{Username: "ghost", Email: "ghost@example.com", PasswordHash: "h", CreatedAt: t0, UpdatedAt: t0})
		if err != nil {
			return err
		}
		if err := tx.Enqueue(ctx, domain.EventUserRegistered, domain.NewUserEvent(u)); err != nil {
			return err
		}
		return boom
	})
	require.ErrorIs(t, err, boom)
	require.Empty(t, outbox(t, db), "a rolled-back write leaves no event")
	_, err = s.ProfileByUsername(ctx, "ghost", 0)
	requireKind(t, err, errs.KindNotFound)

	var created domain.User
	err = s.Transact(ctx, func(tx app.Tx) error {
		u, err := tx.CreateUser(ctx, domain.User{Username: "real", Email: "real@example.com", PasswordHash: "h", CreatedAt: t0, UpdatedAt: t0})
		if err != nil {
			return err
		}
		created = u
		return tx.Enqueue(ctx, domain.EventUserRegistered, domain.NewUserEvent(u))
	})
	require.NoError(t, err)
	rows := outbox(t, db)
	require.Len(t, rows, 1)
	require.Equal(t, domain.EventUserRegistered, rows[0].eventType)
	var ev domain.UserEvent
	require.NoError(t, json.Unmarshal(rows[0].payload, &ev))
	require.Equal(t, domain.UserEvent{ID: created.ID, Username: "real", UpdatedAt: domain.Millis(t0.UnixMilli())}, ev)
	require.JSONEq(t, fmt.Sprintf(`{"id":%d,"username":"real","bio":null,"image":null,"updatedAt":%d}`, created.ID, t0.UnixMilli()),
		string(rows[0].payload))
}

func testSetPasswordHash(t *testing.T, _ *database.DB, s *sqlstore.Store) {
	ctx := context.Background()
	a := create(t, s, "jake", "jake@example.com")
	require.NoError(t, s.SetPasswordHash(ctx, a.ID, "stale", "rehash"))
	got, err := s.UserByID(ctx, a.ID)
	require.NoError(t, err)
	require.Equal(t, a.PasswordHash, got.PasswordHash, "a stale old hash changes nothing")

	require.NoError(t, s.SetPasswordHash(ctx, a.ID, a.PasswordHash, "rehash"))
	got, err = s.UserByID(ctx, a.ID)
	require.NoError(t, err)
	require.Equal(t, "rehash", got.PasswordHash)
}

// A name that renders like an existing one is taken, by the Taken check and
// by the unique skeleton when the check is raced.
func testLookAlikes(t *testing.T, _ *database.DB, s *sqlstore.Store) {
	ctx := context.Background()
	create(t, s, "paypal", "p@example.com")
	create(t, s, "홍길동", "h@example.com")
	for _, name := range []string{"раураl", "PAYPAL"} { // Cyrillic look-alike; case
		taken, err := s.Taken(ctx, name, "new@example.com", 0)
		require.NoError(t, err)
		require.True(t, taken.Username, name)
		err = s.Transact(ctx, func(tx app.Tx) error {
			_, err := tx.CreateUser(ctx, domain.User{Username: name, Email: name + "@example.com", PasswordHash: "h", CreatedAt: t0, UpdatedAt: t0})
			return err
		})
		requireKind(t, err, errs.KindConflict, "username has already been taken")
	}
	taken, err := s.Taken(ctx, "홍길순", "new@example.com", 0)
	require.NoError(t, err)
	require.False(t, taken.Username, "a different Hangul name is free")
	create(t, s, "홍길순", "h2@example.com")
}

// Rows from before the skeleton column get one at start; the second of two
// old look-alikes keeps none (and is counted), the rest are protected.
func testBackfillSkeletons(t *testing.T, db *database.DB, s *sqlstore.Store) {
	ctx := context.Background()
	for i, name := range []string{"jake", "JAKE", "anna"} { // as an old release stored them
		_, err := db.ExecContext(ctx, `INSERT INTO users (username, username_key, email, password_hash, created_at, updated_at)
			VALUES ($1, $2, $3, 'h', 0, 0)`, name, name+"-old", fmt.Sprintf("u%d@example.com", i))
		require.NoError(t, err)
	}
	filled, skipped, err := s.BackfillSkeletons(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, filled)
	require.Equal(t, 1, skipped)
	taken, err := s.Taken(ctx, "Anna", "new@example.com", 0)
	require.NoError(t, err)
	require.True(t, taken.Username)
	filled, skipped, err = s.BackfillSkeletons(ctx)
	require.NoError(t, err)
	require.Equal(t, [2]int{0, 1}, [2]int{filled, skipped}, "a second run changes nothing")
}

func testTokenVersionReservationsAndDeletion(t *testing.T, _ *database.DB, s *sqlstore.Store) {
	ctx := context.Background()
	a := create(t, s, "Alice", "alice@x.y")
	b := create(t, s, "bob", "bob@x.y")
	follow(t, s, a.ID, b.ID, true)
	follow(t, s, b.ID, a.ID, true)
	require.NoError(t, s.Transact(ctx, func(tx app.Tx) error {
		u, err := tx.LockUser(ctx, a.ID)
		require.NoError(t, err)
		u.TokenVersion = 3
		require.NoError(t, tx.UpdateUser(ctx, u))
		return tx.ReserveUsername(ctx, "Alice", a.ID, t0)
	}))
	got, err := s.UserByID(ctx, a.ID)
	require.NoError(t, err)
	require.Equal(t, int64(3), got.TokenVersion)

	for _, tc := range []struct {
		name   string
		except int64
		since  time.Time
		want   bool
	}{
		{"ALICE", b.ID, t0.Add(-time.Hour), true},
		{"alice", a.ID, t0.Add(-time.Hour), false}, // its holder may take it back
		{"alice", b.ID, t0, false},                 // reserved until since only
		{"carol", b.ID, t0.Add(-time.Hour), false},
	} {
		r, err := s.Reserved(ctx, tc.name, tc.except, tc.since)
		require.NoError(t, err)
		require.Equal(t, tc.want, r, "%+v", tc)
	}

	require.NoError(t, s.Transact(ctx, func(tx app.Tx) error { return tx.DeleteUser(ctx, a.ID) }))
	_, err = s.UserByID(ctx, a.ID)
	requireKind(t, err, errs.KindNotFound)
	users, follows, err := s.SnapshotPage(ctx, 0, 10)
	require.NoError(t, err)
	require.Len(t, users, 1)
	require.Empty(t, follows, "follows both ways went with the account")
	err = s.Transact(ctx, func(tx app.Tx) error { return tx.DeleteUser(ctx, a.ID) })
	requireKind(t, err, errs.KindNotFound)
}

func testSnapshotPages(t *testing.T, _ *database.DB, s *sqlstore.Store) {
	ctx := context.Background()
	var ids []int64
	for i := range 5 {
		ids = append(ids, create(t, s, fmt.Sprintf("u%d", i), fmt.Sprintf("u%d@x.y", i)).ID)
	}
	follow(t, s, ids[0], ids[4], true)
	follow(t, s, ids[3], ids[0], true)
	follow(t, s, ids[4], ids[1], true)

	users, follows, err := s.SnapshotPage(ctx, 0, 2)
	require.NoError(t, err)
	require.Equal(t, []int64{ids[0], ids[1]}, []int64{users[0].ID, users[1].ID})
	require.Equal(t, []domain.FollowEvent{{FollowerID: ids[0], FolloweeID: ids[4], At: follows[0].At}}, follows,
		"a page holds the follows its users make")
	require.Positive(t, follows[0].At)
	users, follows, err = s.SnapshotPage(ctx, ids[1], 10)
	require.NoError(t, err)
	require.Len(t, users, 3)
	require.Len(t, follows, 2)
	users, follows, err = s.SnapshotPage(ctx, ids[4], 10)
	require.NoError(t, err)
	require.Empty(t, users)
	require.Empty(t, follows)
}
