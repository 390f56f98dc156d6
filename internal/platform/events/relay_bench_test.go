package events_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
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

// BenchmarkRelayThroughput measures how fast a relay empties an outbox of
// 2,000 events into JetStream, on real PostgreSQL and NATS (and SQLite):
//
//	go test -run '^$' -bench RelayThroughput -benchtime 3x ./internal/platform/events/
//
// It reports events/s; compare with the write rate of the producers.
func BenchmarkRelayThroughput(b *testing.B) {
	nc, err := nats.Connect(testenv.URL(b, testenv.EnvNATS))
	require.NoError(b, err)
	b.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(b, err)
	for _, d := range testenv.Dialects {
		b.Run(string(d), func(b *testing.B) {
			const events_ = 2000
			ns := events.Namespace(testenv.Name("b"))
			b.Cleanup(func() { _ = js.DeleteStream(context.Background(), ns.Stream("producer")) })
			db := testenv.OpenDB(b, d, "events", migrations)
			relay := events.NewRelay(events.RelayConfig{Producer: "producer", EventTypes: []string{"thing.happened"}, Namespace: ns, PollInterval: time.Hour},
				events.RelayDeps{DB: db, JetStream: js, Logger: slog.New(slog.DiscardHandler), Registerer: prometheus.NewRegistry(),
					Tracer: noop.NewTracerProvider().Tracer(""), Propagator: propagation.TraceContext{}})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			require.NoError(b, relay.EnsureStream(ctx))
			done := make(chan struct{})
			go func() { relay.Run(ctx); close(done) }()
			defer func() { cancel(); <-done }()
			var total time.Duration
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				fillOutbox(b, db, i, events_)
				b.StartTimer()
				start := time.Now()
				relay.Kick()
				for outboxLen(b, db) > 0 {
					time.Sleep(2 * time.Millisecond)
				}
				total += time.Since(start)
			}
			b.ReportMetric(float64(events_*b.N)/total.Seconds(), "events/s")
		})
	}
}

func fillOutbox(b testing.TB, db *database.DB, round, n int) {
	ctx := context.Background()
	require.NoError(b, db.Transact(ctx, func(tx *database.Tx) error {
		for j := 0; j < n; j += 100 {
			var sb strings.Builder
			sb.WriteString(`INSERT INTO outbox (event_id, event_type, payload, headers, created_at) VALUES `)
			for k := j; k < j+100 && k < n; k++ {
				if k > j {
					sb.WriteString(",")
				}
				fmt.Fprintf(&sb, `('%d-%d-%s', 'thing.happened', '{"body":"x"}', '{}', 0)`, round, k, time.Now().Format("150405.000000"))
			}
			if _, err := tx.ExecContext(ctx, sb.String()); err != nil {
				return err
			}
		}
		return nil
	}))
}

func outboxLen(b testing.TB, db *database.DB) int {
	var n int
	require.NoError(b, db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM outbox`).Scan(&n))
	return n
}
