package events_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/tungsten-blog/tungsten/internal/platform/database"
	"github.com/tungsten-blog/tungsten/internal/platform/events"
	"github.com/tungsten-blog/tungsten/internal/platform/testenv"
)

// migrations are the package's own set and the test consumer's table.
var migrations = []database.MigrationSet{events.Migrations, {FS: os.DirFS("testdata/migrations")}}

type payload struct {
	Body string `json:"body"`
}

// pipeline wires a producer database, a relay, and a consumer that records
// what it applied into the same database.
func pipeline(t *testing.T, d database.Dialect, nc *nats.Conn) (*database.DB, *events.Relay, func() []string, events.Namespace) {
	t.Helper()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ns := events.Namespace(testenv.Name("t"))
	t.Cleanup(func() { _ = js.DeleteStream(context.Background(), ns.Stream("producer")) })
	db := testenv.OpenDB(t, d, "events", migrations)
	log := slog.New(slog.DiscardHandler)
	tracer := noop.NewTracerProvider().Tracer("")
	prop := propagation.TraceContext{}

	relay := events.NewRelay(events.RelayConfig{Producer: "producer", EventTypes: []string{"thing.happened"}, Namespace: ns, PollInterval: 50 * time.Millisecond},
		events.RelayDeps{DB: db, JetStream: js, Logger: log, Registerer: prometheus.NewRegistry(), Tracer: tracer, Propagator: prop})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	require.NoError(t, relay.EnsureStream(ctx))
	done := make(chan struct{})
	go func() { relay.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	cons := events.NewConsumer(events.ConsumerConfig{
		Name: "recorder", Producer: "producer", EventTypes: []string{"thing.happened"}, Namespace: ns,
		Handler: func(ctx context.Context, tx *database.Tx, ev events.Event) error {
			var p payload
			if err := json.Unmarshal(ev.Data, &p); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO applied (event_id, body) VALUES ($1, $2)`, ev.ID, p.Body)
			return err
		},
	}, events.ConsumerDeps{DB: db, JetStream: js, Logger: log, Registerer: prometheus.NewRegistry(), Tracer: tracer, Propagator: prop})
	runConsumer(t, ctx, cons)

	applied := func() []string {
		rows, err := db.QueryContext(context.Background(), `SELECT body FROM applied ORDER BY body`)
		require.NoError(t, err)
		defer rows.Close()
		var out []string
		for rows.Next() {
			var b string
			require.NoError(t, rows.Scan(&b))
			out = append(out, b)
		}
		return out
	}
	return db, relay, applied, ns
}

// runConsumer starts cons and runs it until the test ends; a Run that ends
// with an error fails the test.
func runConsumer(t *testing.T, ctx context.Context, cons *events.Consumer) {
	t.Helper()
	require.NoError(t, cons.Start(ctx))
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- cons.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
}

func enqueue(t *testing.T, db *database.DB, body string) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, db.Transact(ctx, func(tx *database.Tx) error {
		return events.Enqueue(ctx, tx, propagation.TraceContext{}, "thing.happened", payload{Body: body})
	}))
}

func TestOutboxToConsumerExactlyOnceEffect(t *testing.T) {
	t.Parallel()
	nc, err := nats.Connect(testenv.URL(t, testenv.EnvNATS))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	for _, d := range testenv.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			db, relay, applied, _ := pipeline(t, d, nc)
			enqueue(t, db, "a")
			enqueue(t, db, "b")
			relay.Kick()
			require.Eventually(t, func() bool { return len(applied()) == 2 }, 10*time.Second, 20*time.Millisecond)

			// A crash between publish and delete re-publishes the same event:
			// put it back into the outbox by hand. It must not apply twice.
			var id string
			require.NoError(t, db.QueryRowContext(context.Background(), `SELECT event_id FROM applied WHERE body = 'a'`).Scan(&id))
			_, err := db.ExecContext(context.Background(),
				`INSERT INTO outbox (event_id, event_type, payload, headers, created_at) VALUES ($1, 'thing.happened', $2, '{}', 0)`,
				id, []byte(`{"body":"a"}`))
			require.NoError(t, err)
			relay.Kick()
			require.Eventually(t, func() bool {
				var n int
				_ = db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM outbox`).Scan(&n)
				return n == 0
			}, 10*time.Second, 20*time.Millisecond)
			enqueue(t, db, "c")
			relay.Kick()
			require.Eventually(t, func() bool { return len(applied()) == 3 }, 10*time.Second, 20*time.Millisecond)
			require.Equal(t, []string{"a", "b", "c"}, applied())
		})
	}
}

func TestEmbeddedServerKeepsEventsAcrossRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv, err := events.StartEmbedded(dir, nil)
	require.NoError(t, err)
	nc, err := srv.Connect("t")
	require.NoError(t, err)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ctx := context.Background()
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}, Storage: jetstream.FileStorage})
	require.NoError(t, err)
	_, err = js.Publish(ctx, "s.x", []byte("kept"))
	require.NoError(t, err)
	nc.Close()
	srv.Shutdown()

	srv, err = events.StartEmbedded(dir, nil)
	require.NoError(t, err)
	t.Cleanup(srv.Shutdown)
	nc, err = srv.Connect("t")
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err = jetstream.New(nc)
	require.NoError(t, err)
	s, err := js.Stream(ctx, "S")
	require.NoError(t, err)
	msg, err := s.GetLastMsgForSubject(ctx, "s.x")
	require.NoError(t, err)
	require.Equal(t, "kept", string(msg.Data))
}

// TestIdempotentConsumerSkipsTheDatabase: an Idempotent consumer sees every
// event, outside any transaction, and leaves no processed_events rows.
func TestIdempotentConsumerSkipsTheDatabase(t *testing.T) {
	t.Parallel()
	nc, err := nats.Connect(testenv.URL(t, testenv.EnvNATS))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	for _, d := range testenv.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			db, relay, applied, ns := pipeline(t, d, nc)
			js, err := jetstream.New(nc)
			require.NoError(t, err)
			var mu sync.Mutex
			seen := map[string]bool{}
			cons := events.NewConsumer(events.ConsumerConfig{
				Name: "idempotent", Producer: "producer", EventTypes: []string{"thing.happened"}, Namespace: ns,
				Idempotent: true,
				Handler: func(_ context.Context, tx *database.Tx, ev events.Event) error {
					if tx != nil {
						return errors.New("an idempotent handler got a transaction")
					}
					mu.Lock()
					defer mu.Unlock()
					seen[ev.ID] = true
					return nil
				},
			}, events.ConsumerDeps{DB: db, JetStream: js, Logger: slog.New(slog.DiscardHandler), Registerer: prometheus.NewRegistry(),
				Tracer: noop.NewTracerProvider().Tracer(""), Propagator: propagation.TraceContext{}})
			runConsumer(t, t.Context(), cons)
			enqueue(t, db, "a")
			enqueue(t, db, "b")
			relay.Kick()
			require.Eventually(t, func() bool {
				mu.Lock()
				defer mu.Unlock()
				return len(seen) == 2 && len(applied()) == 2
			}, 10*time.Second, 20*time.Millisecond)
			var rows int
			require.NoError(t, db.QueryRowContext(t.Context(),
				`SELECT COUNT(*) FROM processed_events WHERE consumer = 'idempotent'`).Scan(&rows))
			require.Zero(t, rows)
		})
	}
}
