package events_test

import (
	"context"
	"log/slog"
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

func sumCounter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
	}
	return sum
}

// TestRelaysOnSeveralReplicasShareTheOutbox: two relays draining one
// PostgreSQL outbox publish each event once between them (rows are claimed
// FOR UPDATE SKIP LOCKED), and the backlog gauge reads zero afterwards.
func TestRelaysOnSeveralReplicasShareTheOutbox(t *testing.T) {
	t.Parallel()
	nc, err := nats.Connect(testenv.URL(t, testenv.EnvNATS))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ns := events.Namespace(testenv.Name("t"))
	t.Cleanup(func() { _ = js.DeleteStream(context.Background(), ns.Stream("producer")) })
	db := testenv.OpenDB(t, database.Postgres, "events", migrations)
	const n = 3000
	fillOutbox(t, db, 0, n)

	ctx, cancel := context.WithCancel(context.Background())
	var regs []*prometheus.Registry
	var dones []chan struct{}
	for range 2 {
		reg := prometheus.NewRegistry()
		relay := events.NewRelay(events.RelayConfig{Producer: "producer", EventTypes: []string{"thing.happened"}, Namespace: ns,
			PollInterval: 10 * time.Millisecond, BatchSize: 50},
			events.RelayDeps{DB: db, JetStream: js, Logger: slog.New(slog.DiscardHandler), Registerer: reg,
				Tracer: noop.NewTracerProvider().Tracer(""), Propagator: propagation.TraceContext{}})
		require.NoError(t, relay.EnsureStream(ctx))
		done := make(chan struct{})
		go func() { _ = relay.Run(ctx); close(done) }()
		regs, dones = append(regs, reg), append(dones, done)
	}
	require.Eventually(t, func() bool { return outboxLen(t, db) == 0 }, 30*time.Second, 20*time.Millisecond)
	time.Sleep(100 * time.Millisecond) // a pass in flight finishes
	cancel()
	for _, d := range dones {
		<-d
	}
	var published float64
	for _, reg := range regs {
		p := sumCounter(t, reg, "tungsten_events_published_total")
		require.Positive(t, p, "both relays took a share")
		published += p
		require.Zero(t, sumCounter(t, reg, "tungsten_outbox_backlog"))
	}
	require.Equal(t, float64(n), published, "no event was published twice")
	s, err := js.Stream(context.Background(), ns.Stream("producer"))
	require.NoError(t, err)
	info, err := s.Info(context.Background())
	require.NoError(t, err)
	require.Equal(t, uint64(n), info.State.Msgs)
}
