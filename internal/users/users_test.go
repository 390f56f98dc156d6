package users_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/tungsten-blog/tungsten/internal/platform/authn/authntest"
	"github.com/tungsten-blog/tungsten/internal/platform/database"
	"github.com/tungsten-blog/tungsten/internal/platform/events"
	"github.com/tungsten-blog/tungsten/internal/platform/testenv"
	"github.com/tungsten-blog/tungsten/internal/users"
	"github.com/tungsten-blog/tungsten/internal/users/domain"
)

func TestConfig(t *testing.T) {
	t.Parallel()
	c := users.DefaultConfig()
	require.NoError(t, c.Validate())
	require.Equal(t, users.Config{Argon2Memory: 19456, Argon2Iterations: 2, Argon2Parallelism: 1,
		UsernameReservation: 30 * 24 * time.Hour, FollowLimit: 60, FollowWindow: time.Minute}, c, "OWASP defaults")

	tests := []struct {
		name string
		edit func(c *users.Config)
	}{
		{"no memory", func(c *users.Config) { c.Argon2Memory = 0 }},
		{"too much memory", func(c *users.Config) { c.Argon2Memory = domain.MaxArgon2Memory + 1 }},
		{"no iterations", func(c *users.Config) { c.Argon2Iterations = 0 }},
		{"no lanes", func(c *users.Config) { c.Argon2Parallelism = 0 }},
		{"too many lanes", func(c *users.Config) { c.Argon2Parallelism = 256 }},
		{"negative concurrency", func(c *users.Config) { c.HashConcurrency = -1 }},
		{"negative reservation", func(c *users.Config) { c.UsernameReservation = -time.Second }},
		{"no follow limit", func(c *users.Config) { c.FollowLimit = 0 }},
		{"no follow window", func(c *users.Config) { c.FollowWindow = 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := users.DefaultConfig()
			tt.edit(&c)
			require.Error(t, c.Validate())
		})
	}
}

// TestEventsReachJetStream registers users through the real handler and
// reads the events the relay published, over a real NATS server.
func TestEventsReachJetStream(t *testing.T) {
	t.Parallel()
	natsURL := testenv.URL(t, testenv.EnvNATS)
	nc, err := nats.Connect(natsURL)
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ns := events.Namespace(testenv.Name("t"))

	iss := authntest.NewIssuer(t)
	db := testenv.OpenDB(t, database.SQLite, "users", users.Migrations)
	svc, err := users.New(users.Config{Argon2Memory: 64, Argon2Iterations: 1, Argon2Parallelism: 1, FollowLimit: 60, FollowWindow: time.Minute},
		users.Deps{DB: db, Verifier: iss.Verifier(), JetStream: js, Namespace: ns})
	require.NoError(t, err)
	authToken := iss.Service(t, "auth")
	register := func(username string) int64 {
		t.Helper()
		body := fmt.Sprintf(`{"username":%q,"email":"%s@example.com","password":"password123"}`, username, username)
		req := httptest.NewRequestWithContext(context.Background(), "POST", "/internal/users/accounts", strings.NewReader(body))
		req.Header.Set("Authorization", "Token "+authToken)
		rec := httptest.NewRecorder()
		svc.Handler().ServeHTTP(rec, req)
		require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
		var out struct {
			User struct {
				ID int64 `json:"id"`
			} `json:"user"`
		}
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &out))
		return out.User.ID
	}

	// Written while the relay is down: the outbox keeps it until Start.
	early := register("early")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, svc.Start(ctx))
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		require.NoError(t, svc.Stop(sctx))
		require.NoError(t, js.DeleteStream(sctx, ns.Stream("users")), "deleting the test stream")
	})

	// Written while it runs: published at once (Kick).
	late := register("late")

	cons, err := js.OrderedConsumer(ctx, ns.Stream("users"), jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{ns.Subject(domain.EventUserRegistered)},
	})
	require.NoError(t, err)
	for _, want := range []struct {
		id       int64
		username string
	}{{early, "early"}, {late, "late"}} {
		msg, err := cons.Next(jetstream.FetchMaxWait(10 * time.Second))
		require.NoError(t, err, "waiting for the registration of %s", want.username)
		require.Equal(t, ns.Subject(domain.EventUserRegistered), msg.Subject())
		require.NotEmpty(t, msg.Headers().Get(events.HeaderEventID))
		require.NotEmpty(t, msg.Headers().Get(events.HeaderOccurredAt))

		var ev map[string]any
		require.NoError(t, json.Unmarshal(msg.Data(), &ev))
		require.Equal(t, float64(want.id), ev["id"])
		require.Equal(t, want.username, ev["username"])
		require.Nil(t, ev["bio"])
		require.Nil(t, ev["image"])
		require.Contains(t, ev, "bio", "bio is null, not missing")
		require.Contains(t, ev, "image", "image is null, not missing")
		updated, ok := ev["updatedAt"].(float64)
		require.True(t, ok, "updatedAt is a number")
		require.InDelta(t, float64(time.Now().UnixMilli()), updated, float64(time.Minute.Milliseconds()), "updatedAt is unix ms")
	}

	// The relay removes what it published.
	require.Eventually(t, func() bool {
		var n int
		return db.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox`).Scan(&n) == nil && n == 0
	}, 10*time.Second, 50*time.Millisecond)

	// A follow goes out too, on its own subject.
	follows, err := js.OrderedConsumer(ctx, ns.Stream("users"), jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{ns.Subject(domain.EventFollowCreated)},
	})
	require.NoError(t, err)
	req := httptest.NewRequestWithContext(context.Background(), "POST", "/api/profiles/late/follow", nil)
	req.Header.Set("Authorization", "Token "+iss.User(t, early, "early"))
	rec := httptest.NewRecorder()
	svc.Handler().ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	msg, err := follows.Next(jetstream.FetchMaxWait(10 * time.Second))
	require.NoError(t, err)
	var fe domain.FollowEvent
	require.NoError(t, json.Unmarshal(msg.Data(), &fe))
	require.Equal(t, early, fe.FollowerID)
	require.Equal(t, late, fe.FolloweeID)
	require.Positive(t, fe.At)
}

func TestStartNeedsJetStream(t *testing.T) {
	t.Parallel()
	db := testenv.OpenDB(t, database.SQLite, "users", users.Migrations)
	svc, err := users.New(users.DefaultConfig(), users.Deps{DB: db, Verifier: authntest.NewIssuer(t).Verifier()})
	require.NoError(t, err)
	require.Error(t, svc.Start(context.Background()))
	require.NoError(t, svc.Stop(context.Background()), "stopping what never started is fine")

	_, err = users.New(users.DefaultConfig(), users.Deps{})
	require.Error(t, err, "DB and Verifier are required")
}
