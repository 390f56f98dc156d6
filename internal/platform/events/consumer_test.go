package events_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
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
	"github.com/tungsten-blog/tungsten/internal/platform/telemetry"
	"github.com/tungsten-blog/tungsten/internal/platform/testenv"
)

func newConsumer(t *testing.T, db *database.DB, nc *nats.Conn, ns events.Namespace, name string, reg prometheus.Registerer, h events.HandlerFunc) *events.Consumer {
	t.Helper()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	return events.NewConsumer(events.ConsumerConfig{
		Name: name, Producer: "producer", EventTypes: []string{"thing.happened"}, Namespace: ns, Handler: h,
	}, events.ConsumerDeps{DB: db, JetStream: js, Logger: slog.New(slog.DiscardHandler), Registerer: reg,
		Tracer: noop.NewTracerProvider().Tracer(""), Propagator: propagation.TraceContext{}})
}

// publishRaw publishes an event straight to the stream, bypassing the
// relay and JetStream's duplicate window: the same event ID twice is what a
// consumer sees when it crashed after committing and before acking.
func publishRaw(t *testing.T, nc *nats.Conn, ns events.Namespace, eventID string) {
	t.Helper()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	msg := nats.NewMsg(ns.Subject("thing.happened"))
	msg.Data = []byte(`{"body":"x"}`)
	msg.Header.Set(events.HeaderEventID, eventID)
	_, err = js.PublishMsg(t.Context(), msg)
	require.NoError(t, err)
}

// TestRedeliveredEventIsAcknowledgedNotRetried: a redelivered event is
// recognised as processed and acknowledged, on both engines. (On
// PostgreSQL the duplicate insert used to abort the transaction: the commit
// failed and the event was retried every second, for ever.)
func TestRedeliveredEventIsAcknowledgedNotRetried(t *testing.T) {
	t.Parallel()
	nc, err := nats.Connect(testenv.URL(t, testenv.EnvNATS))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	for _, d := range testenv.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			db, _, _, ns := pipeline(t, d, nc)
			reg := prometheus.NewRegistry()
			var calls atomic.Int32
			cons := newConsumer(t, db, nc, ns, "redelivery", reg, func(context.Context, *database.Tx, events.Event) error {
				calls.Add(1)
				return nil
			})
			runConsumer(t, t.Context(), cons)
			publishRaw(t, nc, ns, "event-1")
			publishRaw(t, nc, ns, "event-1")

			js, err := jetstream.New(nc)
			require.NoError(t, err)
			info := func() *jetstream.ConsumerInfo {
				c, err := js.Consumer(t.Context(), ns.Stream("producer"), strings.ToUpper(string(ns))+"_redelivery")
				require.NoError(t, err)
				i, err := c.Info(t.Context())
				require.NoError(t, err)
				return i
			}
			require.Eventually(t, func() bool {
				i := info()
				return i.AckFloor.Stream == i.Delivered.Stream && i.Delivered.Stream >= 2 && i.NumAckPending == 0
			}, 10*time.Second, 20*time.Millisecond, "both deliveries acknowledged")
			require.Equal(t, int32(1), calls.Load(), "the handler ran once")
			require.Equal(t, map[string]float64{"applied": 1, "duplicate": 1}, consumed(t, reg))
		})
	}
}

// TestConsumerStopsHandlingWhenCancelled: once its context is cancelled the
// consumer handles no further message, buffered or not; they stay
// unacknowledged and are redelivered.
func TestConsumerStopsHandlingWhenCancelled(t *testing.T) {
	t.Parallel()
	nc, err := nats.Connect(testenv.URL(t, testenv.EnvNATS))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	db, _, _, ns := pipeline(t, database.SQLite, nc)
	for i := range 50 {
		publishRaw(t, nc, ns, "buffered-"+string(rune('a'+i%26))+string(rune('a'+i/26)))
	}
	var calls atomic.Int32
	first := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	cons := newConsumer(t, db, nc, ns, "cancelled", prometheus.NewRegistry(), func(context.Context, *database.Tx, events.Event) error {
		calls.Add(1)
		once.Do(func() { close(first) })
		<-release
		return nil
	})
	require.NoError(t, cons.Start(t.Context()))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- cons.Run(ctx) }()
	<-first
	cancel()
	close(release)
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		require.Fail(t, "Run did not return after cancel")
	}
	require.Equal(t, int32(1), calls.Load(), "messages were handled after the context was cancelled")
}

// TestConsumerRunFailsWhenItsDurableIsDeleted: a consumer whose
// subscription ends for good returns an error from Run (a dead worker the
// service reports), instead of sitting idle.
func TestConsumerRunFailsWhenItsDurableIsDeleted(t *testing.T) {
	t.Parallel()
	nc, err := nats.Connect(testenv.URL(t, testenv.EnvNATS))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	db, _, _, ns := pipeline(t, database.SQLite, nc)
	cons := newConsumer(t, db, nc, ns, "doomed", prometheus.NewRegistry(), func(context.Context, *database.Tx, events.Event) error { return nil })
	require.NoError(t, cons.Start(t.Context()))
	done := make(chan error, 1)
	go func() { done <- cons.Run(t.Context()) }()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	time.Sleep(100 * time.Millisecond) // let the first pull request go out
	require.NoError(t, js.DeleteConsumer(t.Context(), ns.Stream("producer"), strings.ToUpper(string(ns))+"_doomed"))
	select {
	case err := <-done:
		require.Error(t, err)
		require.True(t, errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrConsumerNotFound), "%v", err)
	case <-time.After(15 * time.Second):
		require.Fail(t, "Run kept going after its consumer was deleted")
	}
}

// TestProcessedEventsArePrunedAfterRetention: rows older than the
// retention go, newer ones (still needed to spot a redelivery) stay.
func TestProcessedEventsArePrunedAfterRetention(t *testing.T) {
	t.Parallel()
	nc, err := nats.Connect(testenv.URL(t, testenv.EnvNATS))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	for _, d := range testenv.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			db, _, _, ns := pipeline(t, d, nc)
			cons := newConsumer(t, db, nc, ns, "pruned", prometheus.NewRegistry(), nil)
			now := time.Now()
			for id, age := range map[string]time.Duration{"old": events.DefaultRetention + time.Hour, "recent": time.Hour} {
				_, err := db.ExecContext(t.Context(), `INSERT INTO processed_events (consumer, event_id, processed_at) VALUES ('pruned', $1, $2)`,
					id, now.Add(-age).UnixMilli())
				require.NoError(t, err)
			}
			_, err := db.ExecContext(t.Context(), `INSERT INTO processed_events (consumer, event_id, processed_at) VALUES ('other', 'old', 0)`)
			require.NoError(t, err)
			n, err := cons.Prune(t.Context(), now)
			require.NoError(t, err)
			require.Equal(t, int64(1), n)
			var left []string
			rows, err := db.QueryContext(t.Context(), `SELECT consumer || '/' || event_id FROM processed_events WHERE consumer IN ('pruned', 'other') ORDER BY 1`)
			require.NoError(t, err)
			defer rows.Close()
			for rows.Next() {
				var s string
				require.NoError(t, rows.Scan(&s))
				left = append(left, s)
			}
			require.Equal(t, []string{"other/old", "pruned/recent"}, left)
		})
	}
}

// lockedBuffer is a log destination the consumer's goroutine writes while
// the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Split(strings.TrimSpace(l.b.String()), "\n")
}

// TestConsumerLogsABurstOfFailuresInBoundedLines: while a dependency is
// down every event fails (the blog's cache consumer with Redis down: each
// one used to be an ERROR line, hundreds a second under load). A burst of
// failures writes one ERROR line per telemetry.FailureInterval at most and
// one INFO line when events are handled again; the metrics count every
// failure, and every event is applied in the end.
func TestConsumerLogsABurstOfFailuresInBoundedLines(t *testing.T) {
	t.Parallel()
	nc, err := nats.Connect(testenv.URL(t, testenv.EnvNATS))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	db, _, _, ns := pipeline(t, database.SQLite, nc)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	var logs lockedBuffer
	reg := prometheus.NewRegistry()
	var down atomic.Bool
	down.Store(true)
	var failed, applied atomic.Int64
	redisDown := errors.New("moving the cache generation: redis is unavailable (circuit open)")
	cons := events.NewConsumer(events.ConsumerConfig{
		Name: "burst", Producer: "producer", EventTypes: []string{"thing.happened"}, Namespace: ns, Idempotent: true,
		Handler: func(_ context.Context, _ *database.Tx, ev events.Event) error {
			if down.Load() {
				failed.Add(1)
				return fmt.Errorf("invalidating cached lists after %s %s: %w", ev.Type, ev.ID, redisDown)
			}
			applied.Add(1)
			return nil
		},
	}, events.ConsumerDeps{DB: db, JetStream: js, Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Registerer: reg,
		Tracer: noop.NewTracerProvider().Tracer(""), Propagator: propagation.TraceContext{}})
	start := time.Now()
	runConsumer(t, t.Context(), cons)
	const burst = 300
	for i := range burst {
		publishRaw(t, nc, ns, fmt.Sprintf("burst-%d", i))
	}
	require.Eventually(t, func() bool { return failed.Load() >= burst }, 30*time.Second, 10*time.Millisecond)
	down.Store(false)
	require.Eventually(t, func() bool { return applied.Load() == burst }, 30*time.Second, 10*time.Millisecond)
	elapsed := time.Since(start)

	var errorLines, recoveries int
	for _, line := range logs.lines() {
		switch {
		case strings.Contains(line, `"level":"ERROR"`):
			errorLines++
			require.Contains(t, line, "redis is unavailable", "the failure line carries its cause")
		case strings.Contains(line, `"msg":"handling events again"`):
			recoveries++
		}
	}
	require.GreaterOrEqual(t, errorLines, 1, "the first failure is logged")
	require.LessOrEqual(t, errorLines, 1+int(elapsed/telemetry.FailureInterval),
		"%d failures in %s wrote %d ERROR lines", failed.Load(), elapsed, errorLines)
	require.Equal(t, 1, recoveries, "one line when events are handled again")
	require.Equal(t, float64(failed.Load()), consumed(t, reg)["error"], "the metric counts every failure")
}

// consumed reads tungsten_events_consumed_total by outcome from reg.
func consumed(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "tungsten_events_consumed_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" {
					out[l.GetValue()] = m.GetCounter().GetValue()
				}
			}
		}
	}
	return out
}
